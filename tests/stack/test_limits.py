"""AWS limits the templates and the state machine must stay within, checked here because we cannot
reach AWS to be refused: every physical name the templates build from the stack name fits its
service's limit for the longest stack name CloudFormation accepts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import botocore.session
import pytest
from cfnlint.decode import decode
from stack_support import ROOT, record_check

TEMPLATES = ("transit-gateway-peering.yaml", "passive-account-role.yaml", "passive-region-events.yaml")


def template(name: str) -> dict:
    parsed, errors = decode(str(ROOT / "cloudformation" / name))
    assert not errors, errors
    return parsed


# --- names ----------------------------------------------------------------------------------------

# CreateStack: "A stack name can contain only alphanumeric characters (case sensitive) and hyphens.
# It must start with an alphabetical character and can't be longer than 128 characters."
STACK_NAME_LIMIT = 128
STACK_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9-]*"
LONGEST_STACK_NAME = "t" + "-x" * 63 + "y"


@dataclass(frozen=True)
class NameLimit:
    longest: int
    source: str
    # Where botocore's model of the API carries the same limit, (service, operation, member): the
    # test checks the row against it, so a mistyped row fails.
    model: tuple[str, str, str] | None = None


NAME_LIMITS = {
    ("AWS::Events::Rule", "Name"): NameLimit(
        64, "botocore events 2015-10-07 PutRule.Name (shape RuleName, max 64); "
            "https://github.com/aws-samples/aws-control-tower-config-customization/issues/36 (the error AWS gives)",
        ("events", "PutRule", "Name")),
    ("AWS::Lambda::Function", "FunctionName"): NameLimit(
        64, "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lambda/aws.sdk.kotlin.services.lambda.model/"
            "-invoke-request/function-name.html (\"If you specify only the function name, it is limited to 64 "
            "characters\"; the model's 140 is the ARN's)"),
    ("AWS::IAM::Role", "RoleName"): NameLimit(
        64, "https://docs.aws.amazon.com/goto/WebAPI/iam-2010-05-08/PolicyRole (RoleName: maximum length of 64); "
            "botocore iam CreateRole.RoleName", ("iam", "CreateRole", "RoleName")),
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): NameLimit(
        80, "https://docs.aws.amazon.com/step-functions/latest/dg/limits.html (names of state machines, executions "
            "and activities: 80 characters); botocore stepfunctions CreateStateMachine.name",
        ("stepfunctions", "CreateStateMachine", "name")),
    ("AWS::Logs::LogGroup", "LogGroupName"): NameLimit(
        512, "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html "
             "(1 to 512 characters); botocore logs CreateLogGroup.logGroupName",
        ("logs", "CreateLogGroup", "logGroupName")),
    ("AWS::DynamoDB::Table", "TableName"): NameLimit(
        255, "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html "
             "(table names: 3 to 255 characters)"),
    ("AWS::SNS::Topic", "TopicName"): NameLimit(
        256, "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/"
             "-create-topic-request/name.html (1 to 256 characters)"),
    ("AWS::CloudWatch::Alarm", "AlarmName"): NameLimit(
        255, "botocore cloudwatch PutMetricAlarm.AlarmName (shape AlarmName, max 255)",
        ("cloudwatch", "PutMetricAlarm", "AlarmName")),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): NameLimit(
        255, "https://docs.amazonaws.cn/en_us/AWSCloudFormation/latest/UserGuide/aws-properties-cw-dashboard.html "
             "(1 to 255 characters)"),
}


@dataclass(frozen=True)
class DerivedName:
    where: str
    kind: str
    prop: str
    longest: str


def longest_value(parameters: dict, value) -> str | None:
    """The longest string a name property can be, or None when it does not depend on the deployer."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return re.sub(r"\$\{([^}]+)\}", lambda m: longest_variable(parameters, m.group(1)), text)
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
        return "p" * longest_parameter(parameters[value["Ref"]])
    return None


def longest_variable(parameters: dict, name: str) -> str:
    if name == "AWS::StackName":
        return LONGEST_STACK_NAME
    assert name in parameters, f"a name uses ${{{name}}}: give its longest value here"
    return "p" * longest_parameter(parameters[name])


def longest_parameter(parameter: dict) -> int:
    bound = re.search(r"\{\d+,(\d+)\}\$$", parameter.get("AllowedPattern", ""))
    longest = parameter.get("MaxLength") or (bound and int(bound.group(1)))
    assert longest, f"a name comes from a parameter with no bound: {parameter}"
    return int(longest)


def derived_names() -> list[DerivedName]:
    found = []
    for name in TEMPLATES:
        body = template(name)
        parameters = body.get("Parameters", {})
        for logical, resource in body["Resources"].items():
            for prop, value in resource.get("Properties", {}).items():
                longest = longest_value(parameters, value) if prop.endswith("Name") else None
                if longest is not None:
                    found.append(DerivedName(f"{name}: {logical}.{prop}", resource["Type"], prop, longest))
    return found


def test_the_longest_stack_name_is_one_cloudformation_accepts():
    assert len(LONGEST_STACK_NAME) == STACK_NAME_LIMIT
    assert re.fullmatch(STACK_NAME_PATTERN, LONGEST_STACK_NAME)


def test_the_templates_derive_names_from_the_stack_name():
    # Guards the walk below: if it found nothing, the next test would pass for nothing.
    kinds = {(n.kind, n.prop) for n in derived_names()}
    assert ("AWS::Logs::LogGroup", "LogGroupName") in kinds and ("AWS::IAM::Role", "RoleName") in kinds
    record_check("Limits: names", len(derived_names()),
                 "names the templates build from the stack name, each within its service's limit for "
                 "a 128-character stack name")


@pytest.mark.parametrize("name", derived_names(), ids=lambda n: n.where)
def test_every_name_fits_its_services_limit_for_the_longest_stack_name(name):
    # Given the name built from the longest stack name (and the longest value of any parameter in it)
    assert (name.kind, name.prop) in NAME_LIMITS, f"{name.where}: add the limit of {name.kind}.{name.prop}"
    limit = NAME_LIMITS[(name.kind, name.prop)]
    # Then the service accepts it
    assert len(name.longest) <= limit.longest, (
        f"{name.where} is {len(name.longest)} characters for a {STACK_NAME_LIMIT}-character stack name; "
        f"{name.kind} allows {limit.longest} ({limit.source})")
    pattern = model_shape(*limit.model).metadata.get("pattern") if limit.model else None
    assert pattern is None or re.fullmatch(pattern, name.longest), (name.where, pattern)


def model_shape(service: str, operation: str, member: str):
    """The API model's shape of a request member, as botocore (pinned) ships it."""
    return botocore.session.get_session().get_service_model(service) \
        .operation_model(operation).input_shape.members[member]


@pytest.mark.parametrize("row", [r for r in NAME_LIMITS.values() if r.model], ids=lambda r: r.model[0])
def test_each_name_limit_agrees_with_the_api_model(row):
    assert model_shape(*row.model).metadata["max"] == row.longest


# --- execution history ----------------------------------------------------------------------------
#
# A standard execution fails once its history reaches 25,000 events (Step Functions Developer
# Guide, "Avoid reaching the history quota"). The worst case is derived from the definition: a run
# is a simple path from StartAt to an end plus simple cycles, and every cycle must pass a bounded
# element, a counter state (a Pass that adds 1 to `$.<x>.count`, whose loop ends where a Choice
# compares it with `$.<x>.<max>`, set from a template parameter) or a declared loop edge below.
# Each cycle is charged to one bounded element, at most as often as that element's bound allows.

DEFINITION = ROOT / "statemachine" / "peering.asl.json"
HISTORY_QUOTA = 25_000
# Retries are not counted per iteration (3 events an attempt, after a transient error): the
# worst case must leave this share of the quota for them.
HISTORY_MARGIN = 0.2

# Events each state type adds to the history when it runs once: its Entered and Exited events
# (a Fail state has only Entered), a Task's Scheduled, Started and Succeeded (or Failed; the
# LambdaFunction* events for a function ARN), a .sync Task's Submitted too, a Map's Started and
# Succeeded and each iteration's Started and Succeeded. Sources: the HistoryEvent types in the
# Step Functions API Reference; 5 events for a Lambda Task, 2 for a Choice or Wait as observed
# (cloudonaut.io, "Step Functions pitfall: maximum number of history events").
STATE_EVENTS = {"Task": 5, "Choice": 2, "Pass": 2, "Wait": 2, "Succeed": 2, "Fail": 1, "Map": 4}
SYNC_TASK_EXTRA = 1
MAP_ITERATION_EVENTS = 2
EXECUTION_EVENTS = 2  # ExecutionStarted and ExecutionSucceeded (or Failed, TimedOut, Aborted)


def rust_constant(path: str, name: str) -> int:
    source = (ROOT / path).read_text()
    return int(re.search(rf"const {name}: \w+ = ([\d_]+);", source).group(1).replace("_", ""))


def route_passes() -> int:
    """modify-routes passes (MoreRoutes) or teardown passes (MoreTeardown) for one pair: each writes
    for its invocation's time less DEADLINE_MARGIN_SECONDS (45 s) at ROUTE_WRITES_PER_SECOND (5)
    shared among a mesh side's pairs (at most MAX_MESH_SIDES - 1), and a Region holds at most the
    transit gateway route quota of the tool's routes (DEFAULT_TGW_ROUTE_QUOTA) plus as many VPC
    routes (docs/concepts/how-it-runs.md, "Large plans never hit the Lambda timeout")."""
    timeout = template(TEMPLATES[0])["Resources"]["ModifyRoutesFunction"]["Properties"]["Timeout"]
    share = rust_constant("lambdas/common/src/plan/mesh.rs", "MAX_MESH_SIDES") - 1
    writes_per_pass = int((timeout - 45) * 5 / share)
    routes = 2 * rust_constant("lambdas/common/src/config.rs", "DEFAULT_TGW_ROUTE_QUOTA")
    return -(-routes // writes_per_pass)


def mesh_pairs() -> int:
    sides = rust_constant("lambdas/common/src/plan/mesh.rs", "MAX_MESH_SIDES")
    return sides * (sides - 1) // 2


# Loops that no counter bounds, by the edge that closes them, and their bound.
DECLARED_LOOPS = {
    "route passes": ([("MoreRoutes", "ModifyRoutes")], route_passes),
    "teardown passes": ([("MoreTeardown", "RemoveRoutes")], route_passes),
    # A lost race for the lock (the conditional write fails because another execution took it in
    # between) reads the lock again. Each winner then holds it for a run, which this one waits
    # for (counted); the burst in docs/concepts/lock.md is fifty executions started in a minute.
    "lost lock races": ([("AcquireLock", "ReadLock"), ("TakeOverLock", "ReadLock")], lambda: 50),
}
# Items each Map state may iterate over.
MAP_ITEMS = {"MeshPairs": mesh_pairs}


def definition() -> dict:
    return json.loads(DEFINITION.read_text())


def successors(state: dict) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [rule["Next"] for rule in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    found += [catcher["Next"] for catcher in state.get("Catch", [])]
    return found


def graph_of(states: dict) -> dict[str, list[str]]:
    return {name: successors(state) for name, state in states.items()}


def events_of(name: str, state: dict) -> int:
    events = STATE_EVENTS[state["Type"]]
    if state["Type"] == "Task" and state["Resource"].endswith((".sync", ".sync:2")):
        events += SYNC_TASK_EXTRA
    if state["Type"] == "Map":
        assert name in MAP_ITEMS, f"the Map state {name} needs a bound on its items in MAP_ITEMS"
        processor = state.get("ItemProcessor") or state["Iterator"]
        per_item = MAP_ITERATION_EVENTS + worst_simple_path(processor)
        events += MAP_ITEMS[name]() * per_item
    return events


# --- the bounded elements ---

COUNTER = re.compile(r"States\.MathAdd\(\$\.([\w.]+)\.count, 1\)")


def counters(states: dict) -> dict[str, str]:
    """Counter states and the path of the counter each adds 1 to."""
    found = {}
    for name, state in states.items():
        if state["Type"] == "Pass":
            match = COUNTER.search(json.dumps(state.get("Parameters", {})))
            if match:
                found[name] = match.group(1)
    return found


def choice_rules(states: dict):
    def walk(rule):
        yield rule
        for key in ("And", "Or"):
            for inner in rule.get(key, []):
                yield from walk(inner)
        if "Not" in rule:
            yield from walk(rule["Not"])

    for state in states.values():
        for rule in state.get("Choices", []):
            yield from walk(rule)


def max_path_of(states: dict, counter: str) -> str:
    """Where the loop's Choice keeps the counter's bound: `$.<counter>.count >= $.<counter>.<max>`."""
    for rule in choice_rules(states):
        if rule.get("Variable") == f"$.{counter}.count" and "NumericGreaterThanEqualsPath" in rule:
            return rule["NumericGreaterThanEqualsPath"]
    raise AssertionError(f"no Choice ends the loop counting $.{counter}.count")


def written_paths(state: dict):
    """Each (path, value) a state's Parameters write, under its ResultPath."""
    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(f"{prefix}.{key.removesuffix('.$')}", inner)
        else:
            yield prefix, value

    base = state.get("ResultPath", "$")
    if base is None or "Parameters" not in state:
        return
    yield from walk(base, state["Parameters"])


def counter_bound(states: dict, parameters: dict, counter: str) -> tuple[str, int]:
    """The state that sets the counter's bound from a template parameter, and that parameter's
    largest allowed value."""
    max_path = max_path_of(states, counter)
    for name, state in states.items():
        for path, value in written_paths(state):
            found = path == max_path and re.search(r"\$\{(\w+)\}", str(value))
            if found:
                parameter = parameters[found.group(1)]
                assert "MaxValue" in parameter, f"{found.group(1)} bounds a loop: give it a MaxValue"
                return name, int(parameter["MaxValue"])
    raise AssertionError(f"nothing sets {max_path} from a template parameter")


def result_paths(state: dict) -> list[str]:
    """Where a state, and each of its catchers, put their result (the whole input by default)."""
    own = [state.get("ResultPath", "$")] if state["Type"] in ("Task", "Pass", "Map", "Parallel") else []
    return own + [catcher.get("ResultPath", "$") for catcher in state.get("Catch", [])]


def overwriters(states: dict, path: str, among: set[str]) -> set[str]:
    """The states among these that may replace the value at path (or what holds it)."""
    def covers(result_path: str | None) -> bool:
        return result_path is not None and (path == result_path or path.startswith(result_path + ".")
                                            or result_path == "$")

    return {name for name in among if any(covers(rp) for rp in result_paths(states[name]))}


# --- graph walks ---


def reachable(graph: dict, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for successor in graph.get(node, []):
            if successor not in seen:
                seen.add(successor)
                todo.append(successor)
    return seen


def without(graph: dict, nodes: set[str] = frozenset(), edges: set = frozenset()) -> dict:
    return {n: [s for s in succ if s not in nodes and (n, s) not in edges]
            for n, succ in graph.items() if n not in nodes}


def longest_simple_path(graph: dict, weight: dict, start: str, end: str | None) -> int:
    """The most events on a simple path from start to end (a cycle when end is start; to any state
    without successors when end is None), by depth-first search: the graphs are a few dozen states."""
    best = -1

    def walk(node: str, visited: frozenset[str], total: int):
        nonlocal best
        if end is None and not graph[node]:
            best = max(best, total)
        for successor in graph[node]:
            if successor == end:
                best = max(best, total + (0 if end == start else weight[end]))
            elif successor not in visited:
                walk(successor, visited | {successor}, total + weight[successor])

    walk(start, frozenset({start}), weight[start])
    return best


def worst_simple_path(machine: dict) -> int:
    states = machine["States"]
    weight = {name: events_of(name, state) for name, state in states.items()}
    return longest_simple_path(graph_of(states), weight, machine["StartAt"], None)


@dataclass
class Budget:
    what: str
    iterations: int
    events_each: int


def loop_budgets(machine: dict, parameters: dict) -> list[Budget]:
    states = machine["States"]
    graph = graph_of(states)
    weight = {name: events_of(name, state) for name, state in states.items()}
    budgets = []
    by_counter: dict[str, list[str]] = {}
    for name, counter in counters(states).items():
        by_counter.setdefault(counter, []).append(name)
    for counter, names in by_counter.items():
        setter, bound = counter_bound(states, parameters, counter)
        assert setter not in reachable(graph, setter), f"{setter} sets $.{counter}'s bound inside a loop"
        resetters = overwriters(states, f"$.{counter}", reachable(graph, setter)) - set(names)
        assert not resetters, f"{sorted(resetters)} may reset $.{counter} after {setter} set it"
        cycle = max(longest_simple_path(graph, weight, name, name) for name in names)
        budgets.append(Budget(f"$.{counter}.count ({', '.join(names)})", bound, cycle))
    for what, (edges, bound) in DECLARED_LOOPS.items():
        cycle = max(longest_simple_path(graph, weight, target, source) for source, target in edges)
        budgets.append(Budget(what, bound(), cycle))
    return budgets


def unbounded_cycle(machine: dict) -> list[str] | None:
    """A cycle that passes no counter state and no declared loop edge, if there is one."""
    states = machine["States"]
    edges = {edge for declared, _ in DECLARED_LOOPS.values() for edge in declared}
    graph = without(graph_of(states), set(counters(states)), edges)
    for node in graph:
        if node in reachable(graph, node):
            return [node]
    return None


def worst_case_events(machine: dict, parameters: dict) -> tuple[int, list[Budget]]:
    budgets = loop_budgets(machine, parameters)
    path = worst_simple_path(machine)
    return EXECUTION_EVENTS + path + sum(b.iterations * b.events_each for b in budgets), budgets


def test_every_loop_in_the_state_machine_is_bounded():
    assert unbounded_cycle(definition()) is None


def test_the_worst_case_execution_history_stays_within_the_quota_with_a_margin():
    # Given the definition and the largest values the template's parameters allow
    parameters = template(TEMPLATES[0])["Parameters"]
    # When every loop runs its bound, each iteration on its longest cycle
    worst, budgets = worst_case_events(definition(), parameters)
    # Then the history stays under the quota, with room left for retries
    table = "\n".join(f"  {b.what}: {b.iterations} x {b.events_each}" for b in budgets)
    assert worst <= HISTORY_QUOTA * (1 - HISTORY_MARGIN), f"worst case {worst} events:\n{table}"
    record_check("Limits: execution history", worst,
                 f"events at worst in one execution, derived from the definition and the parameters' "
                 f"MaxValues, against the quota of {HISTORY_QUOTA:,}", worst=True)


def test_the_derivation_counts_each_poll_and_each_lock_wait_from_the_definition():
    # A poll is Wait, GetStatus (Task), CountPoll and RouteOnStatus, and at worst Accept and
    # AlreadyAvailable too; a lock wait reads the lock, asks for the holder, waits and counts.
    budgets = {b.what.split(" ")[0]: b for b in loop_budgets(definition(), template(TEMPLATES[0])["Parameters"])}
    assert budgets["$.polling.count"].events_each >= 11
    assert budgets["$.lock.wait.count"].events_each >= 20


def test_a_state_added_to_a_loop_is_counted():
    # Given the poll loop with one more Pass state in it
    machine = definition()
    machine["States"]["CountPoll"]["Next"] = "Extra"
    machine["States"]["Extra"] = {"Type": "Pass", "ResultPath": None, "Next": "RouteOnStatus"}
    parameters = template(TEMPLATES[0])["Parameters"]
    before = {b.what: b.events_each for b in loop_budgets(definition(), parameters)}
    # When the worst case is derived again, then each poll costs two events more
    after = {b.what: b.events_each for b in loop_budgets(machine, parameters)}
    poll = next(k for k in before if k.startswith("$.polling.count"))
    assert after[poll] == before[poll] + 2


def test_a_counter_reset_inside_the_run_is_refused():
    # Given a state after the poll loop that writes $.polling again (a fresh budget of polls)
    machine = definition()
    machine["States"]["Write"] = {"Type": "Pass", "Parameters": {"count": 0}, "ResultPath": "$.polling",
                                  "Next": "ModifyRoutes"}
    # Then the derivation refuses to count on MaxPolls
    with pytest.raises(AssertionError, match="may reset"):
        loop_budgets(machine, template(TEMPLATES[0])["Parameters"])


def test_a_loop_with_no_bound_is_refused():
    machine = definition()
    machine["States"]["Done"] = {"Type": "Pass", "Next": "Notify"}
    assert unbounded_cycle(machine) is not None

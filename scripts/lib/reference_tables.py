"""Writes the book's generated reference tables from their sources, so they cannot drift:

- docs/reference/errors.md: each errorType of `Error::error_type` (lambdas/common/src/error.rs),
  the doc comments of its variants, and what statemachine/peering.asl.json does with it;
- docs/reference/stack-parameters.md: each parameter of cloudformation/transit-gateway-peering.yaml,
  its default, allowed values and description.

Each table sits between `<!-- generated: NAME -->` and `<!-- end generated: NAME -->`.
tests/tools/test_reference_tables.py fails when a page differs from what this writes.

    python scripts/lib/reference_tables.py           # rewrite the pages
    python scripts/lib/reference_tables.py --check   # exit 1, naming each page that differs
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ERRORS_RS = REPO / "lambdas/common/src/error.rs"
ASL = REPO / "statemachine/peering.asl.json"
TEMPLATE = REPO / "cloudformation/transit-gateway-peering.yaml"
REGENERATE = "python3 scripts/lib/reference_tables.py"


def cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


# --- errors -----------------------------------------------------------------------------------

VARIANT = re.compile(r"^    ([A-Z]\w*)\b")
ARM = re.compile(r"^\s*((?:Error::\w+(?: \{ \.\. \})?(?: \| )?)+) => \"(\w+)\",$")


def variant_docs(source: str) -> dict[str, str]:
    """Each variant of `pub enum Error` and its doc comment; a variant without one is an error."""
    body = source.split("pub enum Error {", 1)[1].split("\n}\n", 1)[0]
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in body.splitlines():
        if line.startswith("    /// "):
            pending.append(line[len("    /// "):])
        elif match := VARIANT.match(line):
            if not pending:
                raise SystemExit(f"{ERRORS_RS}: the variant {match.group(1)} needs a doc comment: it is its row in the book")
            docs[match.group(1)] = " ".join(pending)
            pending = []
    return docs


def error_types(source: str) -> dict[str, list[str]]:
    """Each errorType, in the order `error_type` names them, and the variants that carry it."""
    body = source.split("pub fn error_type(&self)", 1)[1].split("\n    }\n", 1)[0]
    types: dict[str, list[str]] = {}
    for line in body.splitlines():
        if match := ARM.match(line):
            variants = re.findall(r"Error::(\w+)", match.group(1))
            types.setdefault(match.group(2), []).extend(variants)
    return types


def lambda_retries(asl: dict) -> dict[str, list[str]]:
    """For each error a Lambda task of the state machine retries, the tasks that retry it."""
    retried: dict[str, list[str]] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            # The definition names each function by the template's substitution, ${PeerFunctionArn}.
            if str(state.get("Resource", "")).endswith("FunctionArn}"):
                for retry in state.get("Retry", []):
                    for error in retry["ErrorEquals"]:
                        retried.setdefault(error, []).append(f"`{name}`")
            for nested in ("ItemProcessor", "Iterator"):
                if nested in state:
                    walk(state[nested]["States"])

    walk(asl["States"])
    return retried


def what_the_state_machine_does(error_type: str, retried: dict[str, list[str]]) -> str:
    fails = "the execution fails with it as its error and the message as its cause"
    tasks = retried.get(error_type)
    if not tasks:
        return f"not retried: {fails}"
    return f"retried with backoff by {', '.join(tasks)}; if it persists, {fails}"


def errors_table() -> str:
    source = ERRORS_RS.read_text()
    docs = variant_docs(source)
    retried = lambda_retries(json.loads(ASL.read_text()))
    rows = [
        [f"`{error_type}`", " ".join(docs[v] for v in variants), what_the_state_machine_does(error_type, retried)]
        for error_type, variants in error_types(source).items()
    ]
    return table(["errorType", "meaning", "what the state machine does"], rows)


# --- stack parameters -------------------------------------------------------------------------


class TemplateLoader(yaml.SafeLoader):
    """Reads a CloudFormation template, taking its short-form functions (!Ref, !Sub, ...) as None."""


TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def allowed(parameter: dict) -> str:
    if "AllowedValues" in parameter:
        return ", ".join(f"`{value}`" for value in parameter["AllowedValues"])
    low, high = parameter.get("MinValue"), parameter.get("MaxValue")
    if low is not None or high is not None:
        return f"{low} to {high}" if high is not None else f"at least {low}"
    if "MaxLength" in parameter:
        return f"{parameter.get('MinLength', 0)} to {parameter['MaxLength']} characters"
    return parameter.get("ConstraintDescription", "")


def default(parameter: dict) -> str:
    if "Default" not in parameter:
        return "(required)"
    value = parameter["Default"]
    return f"`{value}`" if value != "" else "empty"


def parameters_table() -> str:
    parameters = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)["Parameters"]
    rows = [[f"`{name}`", default(p), allowed(p), p.get("Description", "")] for name, p in parameters.items()]
    return table(["parameter", "default", "allowed", "meaning"], rows)


# --- pages ------------------------------------------------------------------------------------

PAGES = {
    "errors": (REPO / "docs/reference/errors.md", errors_table),
    "parameters": (REPO / "docs/reference/stack-parameters.md", parameters_table),
}


def regenerated(text: str, name: str, generate) -> str:
    start, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
    if start not in text or end not in text:
        raise SystemExit(f"the page has no region {start} ... {end}")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    note = f"<!-- do not edit: written by `{REGENERATE}` -->"
    return f"{before}{start}\n{note}\n\n{generate()}\n\n{end}{after}"


def stale_pages() -> list[Path]:
    """The pages whose generated region differs from what their source gives now."""
    return [path for name, (path, generate) in PAGES.items() if regenerated(path.read_text(), name, generate) != path.read_text()]


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        stale = stale_pages()
        for path in stale:
            print(f"{path.relative_to(REPO)} differs from its source; run: {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for name, (path, generate) in PAGES.items():
        path.write_text(regenerated(path.read_text(), name, generate))
    return 0


if __name__ == "__main__":
    sys.exit(main())

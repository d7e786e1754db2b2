"""What starts a run besides the schedule and the tag-change rule: the CloudTrail events of a network
change (the main stack's NetworkChangeRule) and the same events and tag changes in the passive
Region, forwarded to the active Region's default bus by cloudformation/passive-region-events.yaml.

Events go in through PutEvents on the local AWS: moto matches them against the deployed rules with
its own pattern matcher (it does not implement TestEventPattern, so that matcher is the stand-in
for EventBridge's), forwards to an event bus target in another Region, and the emulator's patch
(local_aws_patches.events_start_state_machine_targets) starts the target state machine with the
whole event as input, as EventBridge does. moto does not check a target's RoleArn, so the role is
checked by reading its policy back.
"""

from __future__ import annotations

import json

import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
from stack_support import ACTIVE, PASSIVE, STACK, LocalAws, harness

ACCOUNT = "123456789012"
PASSIVE_STACK = f"{STACK}-passive-events"
ACTIVE_BUS = f"arn:aws:events:{ACTIVE}:{ACCOUNT}:event-bus/default"
NETWORK_CHANGES = ["AssociateVpcCidrBlock", "DisassociateVpcCidrBlock", "CreateTransitGatewayVpcAttachment",
                   "DeleteTransitGatewayVpcAttachment", "DeleteVpc"]
NETWORK_CHANGE_PATTERN = {
    "source": ["aws.ec2"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["ec2.amazonaws.com"], "eventName": NETWORK_CHANGES,
               "errorCode": [{"exists": False}]},
}
ROUTED_TO_PASSIVE = {"10.1.0.0/16", "10.2.0.0/16"}  # the demo's tagged active VPCs
ROUTED_TO_ACTIVE = {"10.20.0.0/16"}  # the demo's tagged passive VPC


def cloudtrail_event(event_name: str, region: str = ACTIVE, request: dict | None = None,
                     response: dict | None = None, error: tuple[str, str] | None = None) -> dict:
    """An "AWS API Call via CloudTrail" event as EventBridge delivers it: the envelope, and in
    `detail` the CloudTrail record of an EC2 call (CloudTrail User Guide, "CloudTrail record
    contents"), made by an assumed role with the AWS CLI."""
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLEID:alice",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/NetworkAdmin/alice", "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEYID",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID",
                                  "arn": f"arn:aws:iam::{ACCOUNT}:role/NetworkAdmin", "accountId": ACCOUNT,
                                  "userName": "NetworkAdmin"},
                "attributes": {"creationDate": "2026-11-22T11:58:02Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2026-11-22T12:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.22.0 md/awscrt#0.23.4 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6",
        "requestParameters": request if request is not None else {"vpcId": "vpc-0123456789abcdef0"},
        "responseElements": response,
        "requestID": "4c0a6e8f-8b1c-4a3e-9d52-0f1e2d3c4b5a",
        "eventID": "2f6f5a8e-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"ec2.{region}.amazonaws.com"},
    }
    if error is not None:
        detail["errorCode"], detail["errorMessage"] = error
        detail["responseElements"] = None
    return {
        "version": "0", "id": "0b7d7a4e-6d0b-4c51-a8a4-3f4c5d6e7f80", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2", "account": ACCOUNT, "time": "2026-11-22T12:00:03Z", "region": region,
        "resources": [], "detail": detail,
    }


def tag_change_event(tag_key: str, region: str) -> dict:
    return {
        "version": "0", "id": "ffd8a6fe-32f8-ef66-c85c-222222222222", "detail-type": "Tag Change on Resource",
        "source": "aws.tag", "account": ACCOUNT, "time": "2026-11-22T12:00:00Z", "region": region,
        "resources": [f"arn:aws:ec2:{region}:{ACCOUNT}:vpc/vpc-0123456789abcdef0"],
        "detail": {"changed-tag-keys": [tag_key], "service": "ec2", "resource-type": "vpc", "version": 3,
                   "tags": {tag_key: "true"}},
    }


def put_events(local_aws: LocalAws, region: str, *events: dict) -> None:
    """Puts the events on `region`'s default bus, as CloudTrail (or the tag service) does."""
    entries = [{"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
                "Resources": e["resources"]} for e in events]
    put = local_aws.client("events", region).put_events(Entries=entries)
    assert put["FailedEntryCount"] == 0, put


def executions(local_aws: LocalAws) -> list[str]:
    listed = local_aws.client("stepfunctions").list_executions(
        stateMachineArn=local_aws.outputs()["StateMachineArn"])["executions"]
    return sorted(e["executionArn"] for e in listed)


def started_since(local_aws: LocalAws, before: list[str]) -> list[str]:
    """The executions started since `before`: the emulator starts them while it handles PutEvents,
    so they are there when PutEvents answers."""
    return [arn for arn in executions(local_aws) if arn not in before]


def rules_by_source(local_aws: LocalAws, region: str) -> dict[str, dict]:
    rules = local_aws.client("events", region).list_rules()["Rules"]
    by_source = {}
    for rule in rules:
        if rule.get("EventPattern"):
            (source,) = json.loads(rule["EventPattern"])["source"]
            assert source not in by_source, f"two rules on {source}: {rules}"
            by_source[source] = rule
    return by_source


def only_target(local_aws: LocalAws, region: str, rule: dict) -> dict:
    (target,) = local_aws.client("events", region).list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert "Input" not in target and "InputPath" not in target and "InputTransformer" not in target
    return target


def first_run(local_aws: LocalAws) -> str:
    run = local_aws.run({})
    assert run.status == "SUCCEEDED", run.described
    return run.output["attachmentId"]


def assert_routed_via(local_aws: LocalAws, attachment_id: str, active_extra=(), passive_extra=()) -> None:
    assert local_aws.static_routes(ACTIVE) == {c: attachment_id for c in ROUTED_TO_ACTIVE | set(active_extra)}
    assert local_aws.static_routes(PASSIVE) == {c: attachment_id for c in ROUTED_TO_PASSIVE | set(passive_extra)}


def vpc_by_cidr(local_aws: LocalAws, region: str, cidr: str) -> str:
    (vpc,) = local_aws.client("ec2", region).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": [cidr]}])["Vpcs"]
    return vpc["VpcId"]


# --- the main stack -----------------------------------------------------------------------------


def test_the_network_change_rule_matches_each_change_and_starts_a_run_with_the_event_as_input(local_aws):
    local_aws.deploy()
    state_machine = local_aws.outputs()["StateMachineArn"]
    rules = rules_by_source(local_aws, ACTIVE)
    rule = rules["aws.ec2"]
    assert json.loads(rule["EventPattern"]) == NETWORK_CHANGE_PATTERN
    assert rule["State"] == "ENABLED"
    target = only_target(local_aws, ACTIVE, rule)
    # The same target as the tag-change rule: the state machine, as the stack's EventBridge role.
    assert target["Arn"] == state_machine
    assert target["RoleArn"] == only_target(local_aws, ACTIVE, rules["aws.tag"])["RoleArn"]
    attachment = first_run(local_aws)
    harness(local_aws.endpoint, "POST", "calls/reset")
    before = executions(local_aws)

    put_events(local_aws, ACTIVE, *[cloudtrail_event(name) for name in NETWORK_CHANGES],
               # a failed call changed nothing; the others change nothing the tool routes
               cloudtrail_event("AssociateVpcCidrBlock", error=("InvalidVpc.Range", "The CIDR '10.0.0.0/8' is invalid.")),
               cloudtrail_event("CreateVpc"), cloudtrail_event("DescribeVpcs"),
               {**cloudtrail_event("DeleteVpc"), "source": "aws.config"})

    started = started_since(local_aws, before)
    assert len(started) == len(NETWORK_CHANGES), started
    runs = [local_aws.wait(arn) for arn in started]
    assert sorted(json.loads(r.described["input"])["detail"]["eventName"] for r in runs) == sorted(NETWORK_CHANGES)
    for run in runs:
        event = json.loads(run.described["input"])
        assert event["detail-type"] == "AWS API Call via CloudTrail" and event["detail"]["awsRegion"] == ACTIVE
        assert run.status == "SUCCEEDED", run.described
        assert run.output["attachmentId"] == attachment and not run.output["created"]
    assert local_aws.mutating_calls() == {}  # re-runs over a routed peering
    assert_routed_via(local_aws, attachment)


def test_a_cidr_block_associated_after_a_run_is_routed_by_the_run_its_event_starts(local_aws):
    local_aws.deploy()
    attachment = first_run(local_aws)
    vpc = vpc_by_cidr(local_aws, ACTIVE, "10.1.0.0/16")
    association = local_aws.client("ec2").associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.3.0.0/16")
    before = executions(local_aws)

    put_events(local_aws, ACTIVE, cloudtrail_event(
        "AssociateVpcCidrBlock", request={"vpcId": vpc, "cidrBlock": "10.3.0.0/16"},
        response={"requestId": "6f1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "vpcId": vpc,
                  "cidrBlockAssociation": {
                      "associationId": association["CidrBlockAssociation"]["AssociationId"],
                      "cidrBlock": "10.3.0.0/16", "cidrBlockState": {"state": "associating"}}}))

    (arn,) = started_since(local_aws, before)
    run = local_aws.wait(arn)
    assert run.status == "SUCCEEDED", run.described
    assert_routed_via(local_aws, attachment, passive_extra={"10.3.0.0/16"})


def test_with_network_change_triggers_off_there_is_no_rule_and_its_events_start_nothing(local_aws):
    local_aws.deploy("NetworkChangeTriggers=false")
    assert set(rules_by_source(local_aws, ACTIVE)) == {"aws.tag"}
    before = executions(local_aws)

    put_events(local_aws, ACTIVE, cloudtrail_event("CreateTransitGatewayVpcAttachment"))

    assert started_since(local_aws, before) == []

    local_aws.deploy("NetworkChangeTriggers=true")
    rules = rules_by_source(local_aws, ACTIVE)
    assert set(rules) == {"aws.tag", "aws.ec2"}
    assert json.loads(rules["aws.ec2"]["EventPattern"]) == NETWORK_CHANGE_PATTERN


# --- the passive Region's forwarder -------------------------------------------------------------


def test_the_passive_region_stack_forwards_to_the_active_bus_as_a_role_that_may_only_put_events_there(local_aws):
    # deploy.sh hands the forwarder the main stack's Region and tag key.
    local_aws.deploy("VpcTagKey=routeMe", "--passive-events")

    cfn = local_aws.client("cloudformation", PASSIVE)
    stack = cfn.describe_stacks(StackName=PASSIVE_STACK)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "ActiveRegion": ACTIVE, "VpcTagKey": "routeMe"}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ActiveEventBusArn"] == ACTIVE_BUS
    role_arn = outputs["ForwardRoleArn"]
    # The same patterns as the main stack's rules, so a forwarded event matches there.
    active, passive = rules_by_source(local_aws, ACTIVE), rules_by_source(local_aws, PASSIVE)
    assert set(passive) == {"aws.ec2", "aws.tag"}
    for source, rule in passive.items():
        assert json.loads(rule["EventPattern"]) == json.loads(active[source]["EventPattern"])
        target = only_target(local_aws, PASSIVE, rule)
        assert (target["Arn"], target["RoleArn"]) == (ACTIVE_BUS, role_arn)

    iam = local_aws.client("iam")
    name = role_arn.rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                   "Action": "sts:AssumeRole",
                                   "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    (policy,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    assert document["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": ACTIVE_BUS}]


def test_an_active_transit_gateway_in_another_region_than_the_stack_gets_a_forwarder_there_too(local_aws):
    # The stack's rules see its own Region's events only; ActiveRegion names another Region.
    elsewhere = "eu-central-1"
    local_aws.deploy(f"ActiveRegion={elsewhere}", "--passive-events")

    for region, name in ((PASSIVE, PASSIVE_STACK), (elsewhere, f"{STACK}-active-events")):
        stack = local_aws.client("cloudformation", region).describe_stacks(StackName=name)["Stacks"][0]
        assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
            "ActiveRegion": ACTIVE, "VpcTagKey": "addToTransitGateway"}, name
        for rule in rules_by_source(local_aws, region).values():
            assert only_target(local_aws, region, rule)["Arn"] == ACTIVE_BUS, name


def test_deploy_sh_updates_the_passive_region_stack_when_the_tag_key_changes(local_aws):
    local_aws.deploy("--passive-events")

    local_aws.deploy("VpcTagKey=routeMe", "--passive-events")

    stack = local_aws.client("cloudformation", PASSIVE).describe_stacks(StackName=PASSIVE_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    tag_rule = rules_by_source(local_aws, PASSIVE)["aws.tag"]
    assert json.loads(tag_rule["EventPattern"])["detail"]["changed-tag-keys"] == [{"equals-ignore-case": "routeMe"}]


def test_deploy_sh_refuses_to_forward_when_the_passive_transit_gateway_is_in_another_account(local_aws):
    done = local_aws.deploy("PassiveAccountId=111122223333", "PassiveRoleArn=arn:aws:iam::111122223333:role/peer",
                            "--passive-events", check=False)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "account 111122223333" in done.stderr
    assert local_aws.client("cloudformation", PASSIVE).list_stacks()["StackSummaries"] == []


def test_a_vpc_attached_in_the_passive_region_is_routed_by_the_run_its_forwarded_event_starts(local_aws):
    local_aws.deploy("--passive-events")
    attachment = first_run(local_aws)
    ec2 = local_aws.client("ec2", PASSIVE)
    (tgw,) = ec2.describe_transit_gateways()["TransitGateways"]
    seed_demo.seed_region(ec2, PASSIVE, {"tagged": ["10.30.0.0/16"], "untagged": "10.39.0.0/16"},
                          "addToTransitGateway", transit_gateway_id=tgw["TransitGatewayId"])
    before = executions(local_aws)

    put_events(local_aws, PASSIVE, cloudtrail_event("CreateTransitGatewayVpcAttachment", region=PASSIVE),
               cloudtrail_event("DeleteVpc", region=PASSIVE, error=("DependencyViolation", "The vpc has dependencies.")))

    (arn,) = started_since(local_aws, before)
    run = local_aws.wait(arn)
    assert json.loads(run.described["input"])["detail"]["awsRegion"] == PASSIVE
    assert run.status == "SUCCEEDED", run.described
    assert_routed_via(local_aws, attachment, active_extra={"10.30.0.0/16"})

    # A change of the routing tag (in any case) is forwarded too; another tag is not.
    before = executions(local_aws)
    put_events(local_aws, PASSIVE, tag_change_event("ADDTOTRANSITGATEWAY", PASSIVE),
               tag_change_event("CostCentre", PASSIVE))
    (arn,) = started_since(local_aws, before)
    run = local_aws.wait(arn)
    assert json.loads(run.described["input"])["detail-type"] == "Tag Change on Resource"
    assert run.status == "SUCCEEDED", run.described


def test_an_event_forwarded_from_the_passive_region_keeps_the_defaults(local_aws):
    # moto rebuilds a forwarded event's envelope in the receiving Region; EventBridge hands it on
    # with the passive Region in `region`. Replayed as the execution input, with the routes
    # missing, it must still peer the stack's two Regions and route both sides.
    local_aws.deploy()

    run = local_aws.run(cloudtrail_event("CreateTransitGatewayVpcAttachment", region=PASSIVE))

    assert run.status == "SUCCEEDED", run.described
    assert (run.output["activeRegion"], run.output["passiveRegion"]) == (ACTIVE, PASSIVE)
    assert_routed_via(local_aws, run.output["attachmentId"])

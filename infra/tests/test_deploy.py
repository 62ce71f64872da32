#!/usr/bin/env python3
"""Deploy test of infra/template.yaml on the local AWS emulator (moto server).

1. Expand the SAM template with aws-sam-translator (infra/expand.py, run by the SAM CLI's
   venv .venv-sam, which has the translator), pointing every function and the layer at a
   dummy zip: there is no build here.
2. Start moto_server (from .venv) on a free loopback port, upload the zip to its S3, and
   create the stack on its CloudFormation.
3. Assert what was created: queues, DLQs, redrive policies, FIFO attributes, the bus, every
   rule and target, the functions, their event sources, the IAM role policies (no `*`
   action, exact action sets, scoped resources, and every AWS call the Rust code makes is
   granted), the dashboard and the outputs.
4. Put a synthetic metrics report on the bus and assert it lands on the metrics queue; put
   plan and execution events and assert the notification rule lets through exactly the ones
   with actions and the execution reports.

Resource types moto's CloudFormation skips (AWS::SQS::QueuePolicy, AWS::CloudWatch::Alarm,
AWS::SNS::Subscription, AWS::SNS::TopicPolicy) and properties it ignores (Architectures,
Layers) are asserted on the expanded template instead; each such test says so. moto has no
EventBridge schema registry at all (AWS::EventSchemas::*): those resources and the outputs that
name them are taken out of the stack created on the emulator (the run prints a note), and
EventSchemaTest checks them on the template, validating events against the embedded schemas.

Run with the project venv's Python (boto3 + moto): `.venv/bin/python infra/tests/test_deploy.py`
(or `make infra-test`). Uses unittest only; prints `N passed, M failed` last.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
sys.path.insert(0, str(INFRA))
from expand import NOT_EMULATED, for_emulator  # noqa: E402 (infra/expand.py, after the path)
REGION = "us-east-1"
STACK = "ecs-autoscale-test"
CODE_BUCKET = "ecs-autoscale-test-code"
CODE_KEY = "code.zip"
CLUSTERS = ["prod", "staging"]
GROUPS = ["prod-asg", "staging-*"]
EMAIL = "ops@example.com"

PARAMETERS = {
    "ClusterNames": ",".join(CLUSTERS),
    "AutoScalingGroupNames": ",".join(GROUPS),
    "NotificationEmail": EMAIL,
}

# Every SDK operation the crates could call -> the IAM action that authorizes it. A call
# found in a crate's source must be granted to its function's role (see
# test_every_sdk_call_of_the_code_is_granted); add new operations here when the code
# starts using them.
SDK_OPERATIONS = {
    # ECS
    "describe_services": "ecs:DescribeServices",
    "update_service": "ecs:UpdateService",
    "list_services": "ecs:ListServices",
    "describe_clusters": "ecs:DescribeClusters",
    "describe_capacity_providers": "ecs:DescribeCapacityProviders",
    "describe_task_definition": "ecs:DescribeTaskDefinition",
    "list_container_instances": "ecs:ListContainerInstances",
    "describe_container_instances": "ecs:DescribeContainerInstances",
    "update_container_instances_state": "ecs:UpdateContainerInstancesState",
    "deregister_container_instance": "ecs:DeregisterContainerInstance",
    "list_tasks": "ecs:ListTasks",
    "describe_tasks": "ecs:DescribeTasks",
    "run_task": "ecs:RunTask",
    "start_task": "ecs:StartTask",
    "stop_task": "ecs:StopTask",
    "tag_resource": "ecs:TagResource",
    "untag_resource": "ecs:UntagResource",
    "list_tags_for_resource": "ecs:ListTagsForResource",
    "put_attributes": "ecs:PutAttributes",
    "delete_attributes": "ecs:DeleteAttributes",
    "get_task_protection": "ecs:GetTaskProtection",
    "update_task_protection": "ecs:UpdateTaskProtection",
    # EC2
    "describe_instances": "ec2:DescribeInstances",
    "describe_launch_template_versions": "ec2:DescribeLaunchTemplateVersions",
    "describe_instance_types": "ec2:DescribeInstanceTypes",
    # Auto Scaling
    "describe_launch_configurations": "autoscaling:DescribeLaunchConfigurations",
    "describe_auto_scaling_groups": "autoscaling:DescribeAutoScalingGroups",
    "describe_auto_scaling_instances": "autoscaling:DescribeAutoScalingInstances",
    "describe_scaling_activities": "autoscaling:DescribeScalingActivities",
    "set_desired_capacity": "autoscaling:SetDesiredCapacity",
    "terminate_instance_in_auto_scaling_group": "autoscaling:TerminateInstanceInAutoScalingGroup",
    "update_auto_scaling_group": "autoscaling:UpdateAutoScalingGroup",
    "set_instance_protection": "autoscaling:SetInstanceProtection",
    "detach_instances": "autoscaling:DetachInstances",
    # SQS (SendMessageBatch is authorized by sqs:SendMessage, DeleteMessageBatch by sqs:DeleteMessage)
    "send_message": "sqs:SendMessage",
    "send_message_batch": "sqs:SendMessage",
    "receive_message": "sqs:ReceiveMessage",
    "delete_message": "sqs:DeleteMessage",
    "delete_message_batch": "sqs:DeleteMessage",
    "change_message_visibility": "sqs:ChangeMessageVisibility",
    "get_queue_attributes": "sqs:GetQueueAttributes",
    "get_queue_url": "sqs:GetQueueUrl",
    # EventBridge
    "put_events": "events:PutEvents",
    # CloudWatch
    "get_metric_data": "cloudwatch:GetMetricData",
    "get_metric_statistics": "cloudwatch:GetMetricStatistics",
    "list_metrics": "cloudwatch:ListMetrics",
    "put_metric_data": "cloudwatch:PutMetricData",
}

# Exactly what each role may do.
POLLER = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
EXPECTED_ACTIONS = {
    "CollectorRole": LOGS | POLLER | {"cloudwatch:GetMetricData", "sqs:SendMessage"},
    "PlannerRole": LOGS
    | POLLER
    | {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:ListContainerInstances",
        "ecs:DescribeContainerInstances",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "ecs:GetTaskProtection",
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeInstances",
        "ecs:DescribeClusters",
        "ecs:DescribeCapacityProviders",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:DescribeInstanceTypes",
        "autoscaling:DescribeLaunchConfigurations",
        "sqs:SendMessage",
        "events:PutEvents",
    },
    "ExecutorRole": LOGS
    | POLLER
    | {
        "ecs:DescribeServices",
        "ecs:ListContainerInstances",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeTasks",
        "autoscaling:DescribeAutoScalingGroups",
        "ecs:UpdateService",
        "ecs:UpdateContainerInstancesState",
        "ecs:TagResource",
        "ecs:PutAttributes",
        "ecs:DeleteAttributes",
        "ecs:StopTask",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:UpdateAutoScalingGroup",
        "events:PutEvents",
    },
}
# Read-only actions AWS authorizes only on "*" (no resource-level permissions), and ListTasks,
# which lists a whole cluster on "*" (scoped by the ecs:cluster condition): the only ones on "*".
ALLOWED_ON_ANY_RESOURCE = {
    "cloudwatch:GetMetricData",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeInstanceTypes",
    "autoscaling:DescribeLaunchConfigurations",
    "ecs:DescribeCapacityProviders",
}
ROLE_OF_CRATE = {"collector": "CollectorRole", "planner": "PlannerRole", "executor": "ExecutorRole"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sam_python() -> str:
    """An interpreter with aws-sam-translator: $SAM_PYTHON, .venv-sam, or this one."""
    candidates = [os.environ.get("SAM_PYTHON"), str(ROOT / ".venv-sam" / "bin" / "python"), sys.executable]
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import samtranslator"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    raise RuntimeError("no Python with aws-sam-translator: create .venv-sam (make sam-venv)")


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    return buf.getvalue()


def _statements(document) -> list[dict]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            # moto's CloudFormation stores inline role policies as a Python repr.
            document = ast.literal_eval(document)
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


class Env:
    """The emulator, the expanded template and the stack, shared by every test."""

    tmp: Path
    moto: subprocess.Popen | None = None
    endpoint: str
    template: dict
    # What was created on the emulator: `template` less NOT_EMULATED.
    deployed: dict
    session = None
    resources: dict[str, dict] = {}
    outputs: dict[str, str] = {}


def setUpModule() -> None:  # noqa: N802 (unittest's name)
    import boto3

    Env.tmp = Path(tempfile.mkdtemp(prefix="ecs-autoscale-deploy-test-"))
    expanded = Env.tmp / "expanded.json"
    subprocess.run(
        [
            _sam_python(),
            str(INFRA / "expand.py"),
            "--code-uri",
            f"s3://{CODE_BUCKET}/{CODE_KEY}",
            "--region",
            REGION,
            "--output",
            str(expanded),
        ],
        check=True,
    )
    Env.template = json.loads(expanded.read_text())
    Env.deployed, left_out = for_emulator(Env.template)
    print(
        "note: moto has no EventBridge schema registry: "
        + ", ".join(left_out)
        + " left out of the stack on the emulator (checked on the template by EventSchemaTest)",
        file=sys.stderr,
    )

    port = _free_port()
    Env.endpoint = f"http://127.0.0.1:{port}"
    moto_server = ROOT / ".venv" / "bin" / "moto_server"
    log = (Env.tmp / "moto.log").open("w")
    Env.moto = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{Env.endpoint}/moto-api/", timeout=1).read()
            break
        except OSError:
            if Env.moto.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start, see {Env.tmp / 'moto.log'}")
            time.sleep(0.1)

    # Only this process's clients: fixed fake credentials, never the caller's.
    Env.session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    s3 = client("s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=_dummy_zip())

    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(Env.deployed),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.monotonic() + 30
    while True:
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("stack creation did not finish")
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack: {stack['StackStatus']} {stack.get('StackStatusReason')}")
    Env.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    Env.resources = {
        r["LogicalResourceId"]: r
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }


def tearDownModule() -> None:  # noqa: N802
    try:
        if Env.moto is not None and Env.moto.poll() is None:
            try:
                client("cloudformation").delete_stack(StackName=STACK)
            except Exception:  # noqa: BLE001 - best effort, the server goes away next
                pass
            Env.moto.terminate()
            try:
                Env.moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                Env.moto.kill()
                Env.moto.wait()
    finally:
        shutil.rmtree(Env.tmp, ignore_errors=True)


def client(service: str):
    return Env.session.client(service, endpoint_url=Env.endpoint)


def physical(logical_id: str) -> str:
    return Env.resources[logical_id]["PhysicalResourceId"]


def template_resource(logical_id: str) -> dict:
    return Env.template["Resources"][logical_id]


def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=f"{STACK}-{name}")["QueueUrl"]


def queue_attributes(name: str) -> dict[str, str]:
    return client("sqs").get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["All"])["Attributes"]


def function(name: str) -> dict:
    return client("lambda").get_function_configuration(FunctionName=f"{STACK}-{name}")


def role_policy(logical_id: str) -> list[dict]:
    iam = client("iam")
    role = physical(logical_id)
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    statements: list[dict] = []
    for name in names:
        statements += _statements(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    return statements


def rule_on_bus(logical_id: str) -> dict:
    events = client("events")
    name = physical(logical_id)
    return events.describe_rule(Name=name, EventBusName=Env.outputs["EventBusName"])


def drain(url: str, want: int, timeout: float = 5.0) -> list[dict]:
    sqs = client("sqs")
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        got += messages
        if len(got) >= want and not messages:
            break
        if not messages:
            time.sleep(0.1)
    return got


class StackTest(unittest.TestCase):
    def test_every_resource_of_the_expanded_template_is_created_or_known_unsupported(self):
        # moto's CloudFormation skips these types; the tests below check them on the template.
        # The schema registry is not even sent to it (NOT_EMULATED); EventSchemaTest checks it.
        unsupported = {"AWS::SQS::QueuePolicy", "AWS::CloudWatch::Alarm", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy"}
        unsupported |= NOT_EMULATED
        # Created only with parameters this stack does not set; ConditionTest deploys them.
        off_here = {f"HasCollectorShard{i}" for i in range(1, 6)}
        for logical_id, resource in Env.template["Resources"].items():
            if resource["Type"] in unsupported or resource.get("Condition") in off_here:
                continue
            with self.subTest(resource=logical_id):
                self.assertIn(logical_id, Env.resources)
                self.assertEqual(Env.resources[logical_id]["ResourceStatus"], "CREATE_COMPLETE")

    def test_outputs(self):
        for key in ["MetricsQueueUrl", "MetricsDeadLetterQueueUrl", "SyntheticQueueUrl", "SyntheticDeadLetterQueueUrl",
                    "PlansQueueUrl", "PlansDeadLetterQueueUrl", "EventBusName", "EventBusArn", "DashboardName",
                    "DashboardUrl", "NotificationTopicArn"]:
            with self.subTest(output=key):
                self.assertTrue(Env.outputs.get(key), f"output {key}")
        self.assertEqual(Env.outputs["EventBusName"], "ecs-autoscale")
        self.assertTrue(Env.outputs["EventBusArn"].endswith(":event-bus/ecs-autoscale"))
        self.assertTrue(Env.outputs["MetricsQueueUrl"].endswith(f"/{STACK}-metrics.fifo"))
        self.assertTrue(Env.outputs["SyntheticQueueUrl"].endswith(f"/{STACK}-synthetic"))
        self.assertTrue(Env.outputs["PlansQueueUrl"].endswith(f"/{STACK}-plans.fifo"))
        self.assertIn(Env.outputs["DashboardName"], Env.outputs["DashboardUrl"])


class QueueTest(unittest.TestCase):
    def test_metrics_queue_is_fifo_grouped_by_the_collector_and_redrives_to_a_fifo_dlq(self):
        q = queue_attributes("metrics.fifo")
        dlq = queue_attributes("metrics-dlq.fifo")
        self.assertEqual(q["FifoQueue"], "true", "one message group per cluster: planned one at a time")
        self.assertEqual(q["ContentBasedDeduplication"], "false", "deduplicated by cycle and cluster")
        self.assertEqual(dlq["FifoQueue"], "true", "a FIFO queue's DLQ must be FIFO")
        redrive = json.loads(q["RedrivePolicy"])
        self.assertEqual(redrive["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertEqual(int(redrive["maxReceiveCount"]), 5)
        self.assertEqual(dlq["MessageRetentionPeriod"], "1209600")

    def test_metrics_queue_visibility_exceeds_planner_timeout_and_fifo_takes_no_batching_window(self):
        visibility = int(queue_attributes("metrics.fifo")["VisibilityTimeout"])
        self.assertGreater(visibility, function("planner")["Timeout"])
        # AWS refuses a batching window on a FIFO event source.
        self.assertEqual(self._mapping("planner").get("MaximumBatchingWindowInSeconds", 0), 0)

    def test_synthetic_queue_is_standard_and_redrives_to_its_dlq(self):
        q = queue_attributes("synthetic")
        dlq = queue_attributes("synthetic-dlq")
        self.assertNotIn("FifoQueue", q)
        redrive = json.loads(q["RedrivePolicy"])
        self.assertEqual(redrive["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertEqual(int(redrive["maxReceiveCount"]), 5)
        self.assertGreater(int(q["VisibilityTimeout"]), function("collector")["Timeout"])

    def test_plans_queue_is_fifo_deduplicated_by_the_planner_and_redrives_to_a_fifo_dlq(self):
        q = queue_attributes("plans.fifo")
        dlq = queue_attributes("plans-dlq.fifo")
        self.assertEqual(q["FifoQueue"], "true")
        self.assertEqual(q["ContentBasedDeduplication"], "false", "MessageDeduplicationId = delivery_id")
        self.assertEqual(dlq["FifoQueue"], "true", "a FIFO queue's DLQ must be FIFO")
        redrive = json.loads(q["RedrivePolicy"])
        self.assertEqual(redrive["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertEqual(int(redrive["maxReceiveCount"]), 5)
        self.assertGreater(int(q["VisibilityTimeout"]), function("executor")["Timeout"])

    def test_synthetic_queue_policy_admits_only_the_synthetic_rule(self):
        # Template-level: moto's CloudFormation does not create AWS::SQS::QueuePolicy.
        policy = template_resource("SyntheticQueuePolicy")["Properties"]
        self.assertEqual(policy["Queues"], [{"Ref": "SyntheticQueue"}])
        (statement,) = _statements(policy["PolicyDocument"])
        self.assertEqual(statement["Effect"], "Allow")
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(statement["Action"], "sqs:SendMessage")
        self.assertEqual(statement["Resource"], {"Fn::GetAtt": ["SyntheticQueue", "Arn"]})
        self.assertEqual(
            statement["Condition"], {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SyntheticMetricsRule", "Arn"]}}}
        )

    @staticmethod
    def _mapping(name: str) -> dict:
        mappings = client("lambda").list_event_source_mappings(FunctionName=f"{STACK}-{name}")["EventSourceMappings"]
        assert len(mappings) == 1, mappings
        return mappings[0]


class FunctionTest(unittest.TestCase):
    def test_runtime_handler_role_and_sizing(self):
        expected = {"collector": 50, "planner": 60, "executor": 120}
        for name, timeout in expected.items():
            with self.subTest(function=name):
                f = function(name)
                self.assertEqual(f["Runtime"], "provided.al2023")
                self.assertEqual(f["Handler"], "bootstrap")
                self.assertEqual(f["Timeout"], timeout)
                self.assertGreaterEqual(f["MemorySize"], 256)
                self.assertTrue(f["Role"].endswith("/" + physical(name.capitalize() + "Role")))

    def test_environment_matches_the_code(self):
        bus = Env.outputs["EventBusName"]
        common = {"CLUSTERS_DIR": "/opt/clusters", "LOG_LEVEL": "info"}
        expected = {
            "collector": {**common, "METRICS_QUEUE_URL": Env.outputs["MetricsQueueUrl"]},
            "planner": {
                **common,
                "PLANS_QUEUE_URL": Env.outputs["PlansQueueUrl"],
                "EVENT_BUS_NAME": bus,
                "COLLECTION_PERIOD": "rate(1 minute)",
            },
            "executor": {**common, "EVENT_BUS_NAME": bus, "DRY_RUN": "false"},
        }
        for name, env in expected.items():
            with self.subTest(function=name):
                self.assertEqual(function(name)["Environment"]["Variables"], env)
        # The names the code reads (constants in the sources): each function's own, and the
        # common ones of shared/src/function_config.rs, which all three read through.
        sources = {
            "collector": ["METRICS_QUEUE_URL"],
            "planner": ["PLANS_QUEUE_URL", "COLLECTION_PERIOD", "METRICS_MAX_AGE_SECS", "PLAN_TTL_SECS"],
            "executor": ["DRY_RUN"],
            "shared/src/function_config.rs": ["CLUSTERS_DIR", "EVENT_BUS_NAME", "LOG_LEVEL"],
        }
        for where, names in sources.items():
            path = ROOT / where
            files = [path] if path.is_file() else (path / "src").rglob("*.rs")
            text = "\n".join(p.read_text() for p in files)
            for var in names:
                with self.subTest(source=where, var=var):
                    self.assertIn(f'"{var}"', text, f"{where} no longer reads {var}")

    def test_architecture_layer_and_build_metadata(self):
        # Template-level: moto ignores Architectures and Layers.
        for name in ["Collector", "Planner", "Executor"]:
            with self.subTest(function=name):
                resource = template_resource(f"{name}Function")
                props = resource["Properties"]
                self.assertEqual(props["Architectures"], [{"Ref": "Architecture"}])
                (layer,) = props["Layers"]
                self.assertEqual(Env.template["Resources"][layer["Ref"]]["Type"], "AWS::Lambda::LayerVersion")
                self.assertEqual(resource["Metadata"]["BuildMethod"], "rust-cargolambda")
                self.assertEqual(resource["Metadata"]["BuildProperties"]["Binary"], name.lower())
        self.assertEqual(Env.template["Parameters"]["Architecture"]["Default"], "arm64")

    def test_event_sources(self):
        lam = client("lambda")
        synthetic_arn = queue_attributes("synthetic")["QueueArn"]
        metrics_arn = queue_attributes("metrics.fifo")["QueueArn"]
        plans_arn = queue_attributes("plans.fifo")["QueueArn"]
        for name, arn in [("collector", synthetic_arn), ("planner", metrics_arn), ("executor", plans_arn)]:
            with self.subTest(function=name):
                (m,) = lam.list_event_source_mappings(FunctionName=f"{STACK}-{name}")["EventSourceMappings"]
                self.assertEqual(m["EventSourceArn"], arn)
                self.assertEqual(m["FunctionResponseTypes"], ["ReportBatchItemFailures"])
                self.assertEqual(m["BatchSize"], 10)

    def test_collector_schedule(self):
        events = client("events")
        rule = events.describe_rule(Name=physical("CollectorFunctionSchedule"))
        self.assertEqual(rule["ScheduleExpression"], "rate(1 minute)")
        # Template-level: only rates, from which the planner derives the collection period.
        pattern = re.compile(Env.template["Parameters"]["CollectorSchedule"]["AllowedPattern"])
        for ok in ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)"]:
            self.assertTrue(pattern.fullmatch(ok), ok)
        for bad in ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 * * * ? *)"]:
            self.assertFalse(pattern.fullmatch(bad), bad)
        self.assertEqual(rule["State"], "ENABLED")
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        self.assertEqual(target["Arn"], function("collector")["FunctionArn"])
        # Not sharded (CollectorShard1..5 empty): no per-shard schedule.
        self.assertFalse([r for r in Env.resources if r.startswith("CollectorShard")])


class BusTest(unittest.TestCase):
    def test_bus_and_rules(self):
        events = client("events")
        bus = events.describe_event_bus(Name="ecs-autoscale")
        self.assertEqual(bus["Arn"], Env.outputs["EventBusArn"])
        rules = {r["Name"] for r in events.list_rules(EventBusName="ecs-autoscale")["Rules"]}
        self.assertEqual(rules, {physical("SyntheticMetricsRule"), physical("NotificationRule")})

    def test_synthetic_metrics_rule_targets_the_synthetic_queue(self):
        rule = rule_on_bus("SyntheticMetricsRule")
        self.assertEqual(
            json.loads(rule["EventPattern"]),
            {"source": ["ecs-autoscale.synthetic"], "detail-type": ["Metrics Report"]},
        )
        (target,) = client("events").list_targets_by_rule(Rule=rule["Name"], EventBusName="ecs-autoscale")["Targets"]
        self.assertEqual(target["Arn"], queue_attributes("synthetic")["QueueArn"])

    def test_notification_rule_targets_the_topic_with_an_email_subscription(self):
        rule = rule_on_bus("NotificationRule")
        (target,) = client("events").list_targets_by_rule(Rule=rule["Name"], EventBusName="ecs-autoscale")["Targets"]
        self.assertEqual(target["Arn"], Env.outputs["NotificationTopicArn"])
        # Template-level: moto's CloudFormation skips subscriptions and topic policies.
        sub = template_resource("NotificationSubscription")
        self.assertEqual(sub["Condition"], "HasNotificationEmail")
        self.assertEqual(sub["Properties"]["Protocol"], "email")
        self.assertEqual(sub["Properties"]["Endpoint"], {"Ref": "NotificationEmail"})
        statement = _statements(template_resource("NotificationTopicPolicy")["Properties"]["PolicyDocument"])[0]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(statement["Action"], "sns:Publish")
        self.assertEqual(
            statement["Condition"], {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["NotificationRule", "Arn"]}}}
        )
        for logical_id in ["NotificationTopic", "NotificationTopicPolicy", "NotificationSubscription", "NotificationRule"]:
            with self.subTest(resource=logical_id):
                self.assertEqual(template_resource(logical_id).get("Condition"), "HasNotificationEmail")


class DeliveryTest(unittest.TestCase):
    """Events put on the bus, as a user or the functions would."""

    @classmethod
    def setUpClass(cls):
        # moto invokes a queue's Lambda on every send (and, without docker, fails): switch the
        # event source mappings off so that the messages stay on the queues to be read.
        lam = client("lambda")
        for m in lam.list_event_source_mappings()["EventSourceMappings"]:
            lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)

    def test_a_synthetic_metrics_report_lands_on_the_synthetic_queue(self):
        report = {
            "schema_version": 1,
            "cluster": "prod",
            "cycle_id": "manual-1",
            "collected_at": "2026-11-29T10:00:00Z",
            "origin": "synthetic",
            "services": {"worker": {"values": {"queue_length": 250}, "missing": {}}},
        }
        events = client("events")
        result = events.put_events(
            Entries=[
                {"EventBusName": "ecs-autoscale", "Source": "ecs-autoscale.synthetic",
                 "DetailType": "Metrics Report", "Detail": json.dumps(report)},
                # Neither another source nor another detail-type reaches the queue.
                {"EventBusName": "ecs-autoscale", "Source": "someone.else",
                 "DetailType": "Metrics Report", "Detail": json.dumps(report)},
                {"EventBusName": "ecs-autoscale", "Source": "ecs-autoscale.synthetic",
                 "DetailType": "Scaling Plan", "Detail": json.dumps(report)},
            ]
        )
        self.assertEqual(result["FailedEntryCount"], 0)
        messages = drain(Env.outputs["SyntheticQueueUrl"], want=1)
        self.assertEqual(len(messages), 1, messages)
        envelope = json.loads(messages[0]["Body"])
        # The collector's forwarder reads the whole EventBridge envelope (shared::messages::report_from_body).
        self.assertEqual(envelope["source"], "ecs-autoscale.synthetic")
        self.assertEqual(envelope["detail-type"], "Metrics Report")
        self.assertEqual(envelope["detail"], report)

    def test_notifications_skip_quiet_plans(self):
        events = client("events")
        sqs = client("sqs")
        probe_url = sqs.create_queue(QueueName="notification-probe")["QueueUrl"]
        probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = physical("NotificationRule")
        # moto's EventBridge cannot deliver to SNS targets: the rule's pattern is checked with a
        # probe queue in the topic's place (the topic target is restored afterwards).
        (topic,) = events.list_targets_by_rule(Rule=rule, EventBusName="ecs-autoscale")["Targets"]
        events.remove_targets(Rule=rule, EventBusName="ecs-autoscale", Ids=[topic["Id"]])
        events.put_targets(Rule=rule, EventBusName="ecs-autoscale", Targets=[{"Id": "probe", "Arn": probe_arn}])
        try:
            plan = {"schema_version": 1, "plan_id": "p", "cluster": "prod", "has_actions": True}
            entries = [
                ("Scaling Plan", {**plan, "plan_id": "busy", "has_actions": True}),
                ("Scaling Plan", {**plan, "plan_id": "quiet", "has_actions": False}),
                ("Scaling Plan Applied", {"schema_version": 1, "plan_id": "busy", "outcome": "applied"}),
                ("Metrics Report", {"schema_version": 1, "plan_id": "not-a-plan"}),
            ]
            events.put_events(
                Entries=[
                    {"EventBusName": "ecs-autoscale", "Source": "ecs-autoscale", "DetailType": t, "Detail": json.dumps(d)}
                    for t, d in entries
                ]
            )
            got = drain(probe_url, want=2)
            seen = sorted((json.loads(m["Body"])["detail-type"], json.loads(m["Body"])["detail"]["plan_id"]) for m in got)
            self.assertEqual(seen, [("Scaling Plan", "busy"), ("Scaling Plan Applied", "busy")])
        finally:
            events.remove_targets(Rule=rule, EventBusName="ecs-autoscale", Ids=["probe"])
            events.put_targets(Rule=rule, EventBusName="ecs-autoscale", Targets=[topic])


class IamTest(unittest.TestCase):
    def test_no_wildcard_actions_and_exact_action_sets(self):
        for role, expected in EXPECTED_ACTIONS.items():
            with self.subTest(role=role):
                statements = role_policy(role)
                actions = set()
                for s in statements:
                    self.assertEqual(s["Effect"], "Allow")
                    self.assertNotIn("NotAction", s)
                    self.assertNotIn("NotResource", s)
                    for action in _as_list(s["Action"]):
                        self.assertNotIn("*", action, f"{role}: wildcard action {action}")
                        actions.add(action)
                self.assertEqual(actions, expected)

    def test_only_actions_without_resource_level_permissions_are_on_any_resource(self):
        for role in EXPECTED_ACTIONS:
            for s in role_policy(role):
                if "*" in _as_list(s["Resource"]):
                    with self.subTest(role=role, sid=s.get("Sid")):
                        self.assertLessEqual(set(_as_list(s["Action"])), ALLOWED_ON_ANY_RESOURCE)
                        if "ecs:ListTasks" in _as_list(s["Action"]):
                            self.assertEqual(_as_list(s["Action"]), ["ecs:ListTasks"])
                            clusters = [f"arn:*:ecs:*:*:cluster/{c}" for c in CLUSTERS]
                            self.assertEqual(sorted(_as_list(s["Condition"]["ArnLike"]["ecs:cluster"])), clusters)
                            self.assertEqual(s["Condition"]["StringEquals"]["aws:RequestedRegion"], REGION)

    def test_ecs_reads_are_scoped_to_the_parameters(self):
        ecs = lambda kind, c: f"arn:*:ecs:*:*:{kind}/{c}/*"  # noqa: E731
        expected = {
            "PlannerRole": {
                "ecs:DescribeServices": [ecs("service", c) for c in CLUSTERS],
                "ecs:ListContainerInstances": [f"arn:*:ecs:*:*:cluster/{c}" for c in CLUSTERS],
                "ecs:DescribeContainerInstances": [ecs("container-instance", c) for c in CLUSTERS],
                "ecs:DescribeTasks": [ecs("task", c) for c in CLUSTERS],
                "ecs:GetTaskProtection": [ecs("task", c) for c in CLUSTERS],
                "ecs:DescribeClusters": [f"arn:*:ecs:*:*:cluster/{c}" for c in CLUSTERS],
            },
            "ExecutorRole": {
                "ecs:DescribeServices": [ecs("service", c) for c in CLUSTERS],
                "ecs:DescribeContainerInstances": [ecs("container-instance", c) for c in CLUSTERS],
                "ecs:DescribeTasks": [ecs("task", c) for c in CLUSTERS],
            },
        }
        for role, actions in expected.items():
            for action, resources in actions.items():
                with self.subTest(role=role, action=action):
                    granted = [s for s in role_policy(role) if action in _as_list(s["Action"])]
                    self.assertEqual(len(granted), 1)
                    self.assertEqual(sorted(_as_list(granted[0]["Resource"])), sorted(resources))
                    self.assertEqual(granted[0]["Condition"]["StringEquals"]["aws:RequestedRegion"], REGION)

    def test_sends_and_publications_go_only_to_the_next_hop(self):
        metrics = queue_attributes("metrics.fifo")["QueueArn"]
        plans = queue_attributes("plans.fifo")["QueueArn"]
        synthetic = queue_attributes("synthetic")["QueueArn"]
        bus = Env.outputs["EventBusArn"]
        expected = {
            ("CollectorRole", "sqs:SendMessage"): [metrics],
            ("PlannerRole", "sqs:SendMessage"): [plans],
            ("PlannerRole", "events:PutEvents"): [bus],
            ("ExecutorRole", "events:PutEvents"): [bus],
            ("CollectorRole", "sqs:ReceiveMessage"): [synthetic],
            ("PlannerRole", "sqs:ReceiveMessage"): [metrics],
            ("ExecutorRole", "sqs:ReceiveMessage"): [plans],
        }
        for (role, action), resources in expected.items():
            with self.subTest(role=role, action=action):
                granted = [r for s in role_policy(role) if action in _as_list(s["Action"]) for r in _as_list(s["Resource"])]
                self.assertEqual(granted, resources)

    def test_logs_only_to_the_functions_own_log_group(self):
        for name in ["collector", "planner", "executor"]:
            with self.subTest(function=name):
                granted = [
                    r
                    for s in role_policy(name.capitalize() + "Role")
                    if "logs:PutLogEvents" in _as_list(s["Action"])
                    for r in _as_list(s["Resource"])
                ]
                self.assertEqual(len(granted), 1)
                self.assertIn(f":log-group:/aws/lambda/{STACK}-{name}", granted[0])

    def test_executor_mutations_are_scoped_to_the_parameters(self):
        statements = {s["Sid"]: s for s in role_policy("ExecutorRole")}
        ecs = lambda kind, c: f"arn:*:ecs:*:*:{kind}/{c}/*"  # noqa: E731
        groups = [f"arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{g}" for g in GROUPS]
        expected = {
            "ScaleServices": [ecs("service", c) for c in CLUSTERS],
            "DrainAndReactivateInstances": [ecs("container-instance", c) for c in CLUSTERS],
            "RecordScalingTags": [ecs("service", c) for c in CLUSTERS],
            "RecordOwnDrains": [ecs("container-instance", c) for c in CLUSTERS],
            "StopTasksOfForcedDrains": [ecs("task", c) for c in CLUSTERS],
            "ResizeGroups": groups,
        }
        for sid, resources in expected.items():
            with self.subTest(statement=sid):
                s = statements[sid]
                self.assertEqual(sorted(_as_list(s["Resource"])), sorted(resources))
                self.assertEqual(s["Condition"]["StringEquals"]["aws:RequestedRegion"], REGION)
        self.assertEqual(
            _as_list(statements["RecordScalingTags"]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]),
            ["ecs-autoscale:last-scaling"],
        )
        # The tag key and the attribute names (drain record, abort record) are the ones the code writes.
        state_rs = (ROOT / "shared" / "src" / "state.rs").read_text()
        for key in ["ecs-autoscale:last-scaling", "ecs-autoscale.drained-at", "ecs-autoscale.drain-aborted-at"]:
            self.assertIn(f'"{key}"', state_rs)

    def test_every_sdk_call_of_the_code_is_granted(self):
        call = re.compile(r"\.([a-z][a-z0-9_]*)\(\)")
        for crate, role in ROLE_OF_CRATE.items():
            granted = set()
            for s in role_policy(role):
                granted |= set(_as_list(s["Action"]))
            called = set()
            for path in (ROOT / crate / "src").rglob("*.rs"):
                for op in call.findall(path.read_text()):
                    if op in SDK_OPERATIONS:
                        called.add(SDK_OPERATIONS[op])
            with self.subTest(crate=crate):
                self.assertTrue(called, f"no AWS call found in {crate}/src")
                self.assertLessEqual(called, granted, f"{crate} calls actions its role lacks")


class ObservabilityTest(unittest.TestCase):
    def test_alarms_on_each_dlq_and_each_function(self):
        # Template-level: moto's CloudFormation does not create AWS::CloudWatch::Alarm.
        alarms = [r["Properties"] for r in Env.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
        watched = set()
        for a in alarms:
            (dim,) = a["Dimensions"]
            value = dim["Value"]
            watched.add((a["Namespace"], a["MetricName"], value.get("Ref") or value["Fn::GetAtt"][0]))
            self.assertEqual(a["ComparisonOperator"], "GreaterThanOrEqualToThreshold")
            self.assertEqual(a["Threshold"], 1)
            self.assertEqual(a["AlarmActions"]["Fn::If"][0], "HasNotificationEmail")
        self.assertEqual(
            watched,
            {
                ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "MetricsDeadLetterQueue"),
                ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "SyntheticDeadLetterQueue"),
                ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "PlansDeadLetterQueue"),
                ("AWS/Lambda", "Errors", "CollectorFunction"),
                ("AWS/Lambda", "Errors", "PlannerFunction"),
                ("AWS/Lambda", "Errors", "ExecutorFunction"),
            },
        )

    def test_dashboard_shows_pipeline_health_and_decisions(self):
        body = json.loads(client("cloudwatch").get_dashboard(DashboardName=Env.outputs["DashboardName"])["DashboardBody"])
        text = json.dumps(body)
        for needle in [f"{STACK}-collector", f"{STACK}-planner", f"{STACK}-executor",
                       f"{STACK}-metrics-dlq.fifo", f"{STACK}-plans-dlq.fifo"]:
            self.assertIn(needle, text)
        # The EMF namespace of shared/src/emf.rs, the metrics of planner/src/emf.rs and executor/src/emf.rs.
        self.assertIn('pub const NAMESPACE: &str = "ecs-autoscale";', (ROOT / "shared" / "src" / "emf.rs").read_text())
        emf = "".join((ROOT / crate / "src" / "emf.rs").read_text() for crate in ("planner", "executor"))
        for metric in ["DesiredTasks", "RunningTasks", "GroupDesiredCapacity", "GroupInServiceInstances",
                       "InstancesDrained", "InstancesTerminated"]:
            with self.subTest(metric=metric):
                self.assertIn(f'MetricName=\\"{metric}\\"', text)
                self.assertIn(f'"{metric}"', emf)


class EventSchemaTest(unittest.TestCase):
    """Template-level: moto has no schema registry (see NOT_EMULATED)."""

    SCHEMAS = {
        "MetricsReportSchema": ("ecs-autoscale.synthetic@MetricsReport", "ecs-autoscale.synthetic", "Metrics Report"),
        "ScalingPlanSchema": ("ecs-autoscale@ScalingPlan", "ecs-autoscale", "Scaling Plan"),
        "ScalingPlanAppliedSchema": ("ecs-autoscale@ScalingPlanApplied", "ecs-autoscale", "Scaling Plan Applied"),
    }

    @staticmethod
    def content(logical_id: str) -> dict:
        return json.loads(template_resource(logical_id)["Properties"]["Content"])

    def test_a_registry_with_the_three_event_schemas_named_in_the_outputs(self):
        registries = [i for i, r in Env.template["Resources"].items() if r["Type"] == "AWS::EventSchemas::Registry"]
        self.assertEqual(registries, ["EventSchemaRegistry"])
        schemas = {i for i, r in Env.template["Resources"].items() if r["Type"] == "AWS::EventSchemas::Schema"}
        self.assertEqual(schemas, set(self.SCHEMAS))
        outputs = Env.template["Outputs"]
        self.assertEqual(outputs["EventSchemaRegistryName"]["Value"], {"Fn::GetAtt": ["EventSchemaRegistry", "RegistryName"]})
        for logical_id, (name, _, _) in self.SCHEMAS.items():
            with self.subTest(schema=logical_id):
                properties = template_resource(logical_id)["Properties"]
                self.assertEqual(properties["RegistryName"], {"Fn::GetAtt": ["EventSchemaRegistry", "RegistryName"]})
                self.assertEqual(properties["SchemaName"], name)
                self.assertEqual(properties["Type"], "JSONSchemaDraft4")
                self.assertEqual(outputs[logical_id + "Name"]["Value"], {"Fn::GetAtt": [logical_id, "SchemaName"]})

    def test_each_content_is_a_draft_4_schema_of_the_event_the_rules_match(self):
        import jsonschema

        patterns = {
            "MetricsReportSchema": template_resource("SyntheticMetricsRule")["Properties"]["EventPattern"],
            "ScalingPlanSchema": template_resource("NotificationRule")["Properties"]["EventPattern"],
            "ScalingPlanAppliedSchema": template_resource("NotificationRule")["Properties"]["EventPattern"],
        }
        for logical_id, (_, source, detail_type) in self.SCHEMAS.items():
            with self.subTest(schema=logical_id):
                schema = self.content(logical_id)
                self.assertEqual(schema["$schema"], "http://json-schema.org/draft-04/schema#")
                jsonschema.Draft4Validator.check_schema(schema)
                self.assertEqual(schema["x-amazon-events-source"], source)
                self.assertEqual(schema["x-amazon-events-detail-type"], detail_type)
                pattern = json.dumps(patterns[logical_id])
                self.assertIn(json.dumps(source), pattern)
                self.assertIn(json.dumps(detail_type), pattern)
                # CreateSchema takes at most 100,000 characters of content.
                self.assertLess(len(template_resource(logical_id)["Properties"]["Content"]), 100_000)

    def test_the_documented_report_validates_and_a_broken_one_does_not(self):
        import jsonschema

        # The report of infra/README.md's `put-events` example, as EventBridge delivers it.
        readme = (INFRA / "README.md").read_text()
        detail = json.loads(json.loads(re.search(r'"Detail": ("(?:[^"\\]|\\.)*")', readme).group(1)))
        event = {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "Metrics Report",
            "source": "ecs-autoscale.synthetic",
            "account": "123456789012",
            "time": "2026-11-29T10:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": detail,
        }
        validator = jsonschema.Draft4Validator(self.content("MetricsReportSchema"))
        self.assertEqual([e.message for e in validator.iter_errors(event)], [])
        # Unknown fields pass (the compatibility rule); a missing or mistyped field does not.
        self.assertTrue(validator.is_valid({**event, "detail": {**detail, "added_later": {"x": 1}}}))
        self.assertFalse(validator.is_valid({**event, "detail": {**detail, "schema_version": 2}}))
        self.assertFalse(validator.is_valid({**event, "detail": {k: v for k, v in detail.items() if k != "cycle_id"}}))
        broken = json.loads(json.dumps(detail))
        broken["services"]["worker"]["values"]["queue_length"] = "250"
        self.assertFalse(validator.is_valid({**event, "detail": broken}))

    def test_plan_and_execution_report_schemas_state_the_compatibility_rule(self):
        for logical_id in self.SCHEMAS:
            with self.subTest(schema=logical_id):
                schema = self.content(logical_id)
                self.assertIn("Compatibility: within one `schema_version`", schema["description"])
                detail = schema["properties"]["detail"]["$ref"].removeprefix("#/definitions/")
                self.assertEqual(schema["definitions"][detail]["properties"]["schema_version"]["enum"], [1])


class ConditionTest(unittest.TestCase):
    def test_without_an_email_there_is_no_notification_resource(self):
        self.assertEqual(Env.template["Parameters"]["NotificationEmail"]["Default"], "")
        # A second stack with the defaults (no e-mail), on a bus of its own.
        cfn = client("cloudformation")
        name = f"{STACK}-quiet"
        params = {**PARAMETERS, "NotificationEmail": "", "EventBusName": "ecs-autoscale-quiet"}
        cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps(Env.deployed),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        try:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", stack.get("StackStatusReason"))
            created = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
            self.assertIn("SyntheticMetricsRule", created)
            self.assertFalse({"NotificationTopic", "NotificationRule"} & created)
            outputs = {o["OutputKey"] for o in stack.get("Outputs", [])}
            self.assertIn("PlansQueueUrl", outputs)
            self.assertNotIn("NotificationTopicArn", outputs)
            rules = client("events").list_rules(EventBusName="ecs-autoscale-quiet")["Rules"]
            self.assertEqual(len(rules), 1, "only the synthetic-metrics rule")
        finally:
            cfn.delete_stack(StackName=name)

    def test_a_sharded_collector_has_one_target_per_shard_and_the_single_schedule_off(self):
        # A second stack with two of the five shard slots set (the first and the third).
        cfn = client("cloudformation")
        events = client("events")
        name = f"{STACK}-sharded"
        params = {
            **PARAMETERS,
            "EventBusName": "ecs-autoscale-sharded",
            "CollectorShard1": "prod",
            "CollectorShard3": "staging,qa-1,qa_2",
        }
        cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps(Env.deployed),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        try:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", stack.get("StackStatusReason"))
            created = {
                r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
            }
            single = events.describe_rule(Name=created["CollectorFunctionSchedule"])
            self.assertEqual(single["State"], "DISABLED", "every cluster is in a shard's invocation instead")
            self.assertFalse({"CollectorShard2Schedule", "CollectorShard4Schedule", "CollectorShard5Schedule"} & set(created))
            collector_arn = client("lambda").get_function(FunctionName=f"{name}-collector")["Configuration"][
                "FunctionArn"
            ]
            inputs = {}
            for shard in [1, 3]:
                rule = events.describe_rule(Name=created[f"CollectorShard{shard}Schedule"])
                self.assertEqual(rule["State"], "ENABLED")
                self.assertEqual(rule["ScheduleExpression"], "rate(1 minute)")
                self.assertIn(f"CollectorShard{shard}SchedulePermission", created)
                (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                self.assertEqual(target["Arn"], collector_arn)
                inputs[shard] = json.loads(target["Input"])
            # Each input is the collector's direct-invoke form (collector/src/handler.rs).
            self.assertEqual(inputs, {1: {"clusters": ["prod"]}, 3: {"clusters": ["staging", "qa-1", "qa_2"]}})
        finally:
            cfn.delete_stack(StackName=name)

    def test_shard_parameters_take_only_cluster_names(self):
        # The names go into a JSON string unescaped: the pattern keeps quotes and
        # backslashes (and spaces) out.
        for i in range(1, 6):
            pattern = re.compile(Env.template["Parameters"][f"CollectorShard{i}"]["AllowedPattern"])
            for ok in ["", "prod", "prod-a,prod_b,C1"]:
                self.assertTrue(pattern.fullmatch(ok), ok)
            for bad in ['a"b', "a\\b", "a, b", "a;b"]:
                self.assertFalse(pattern.fullmatch(bad), bad)


def main() -> int:
    started = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)

    def method(test) -> str:
        # A failing subTest counts its test method once; a failed setUpModule counts as one.
        return getattr(test, "test_case", test).id()

    failed_ids = {method(t) for t, _ in result.failures + result.errors}
    failed_ids |= {t.id() for t in result.unexpectedSuccesses}
    failed = len(failed_ids)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped)
    print(f"deploy test took {time.monotonic() - started:.1f} s", file=sys.stderr)
    line = f"{passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Creates the pipeline's stack from infra/template.yaml on the local emulator, for the demo.

The same path as the deploy test (infra/tests/test_deploy.py): the SAM template is expanded
offline by infra/expand.py (aws-sam-translator, from .venv-sam), every function's code points at
a dummy zip in the emulator's S3, and the expansion is created as a CloudFormation stack. The
functions' SQS event source mappings are then switched off (moto would invoke the functions on
every message, which needs docker): the demo plays them itself with the same handlers.

Prints the stack's outputs as one JSON object (MetricsQueueUrl, PlansQueueUrl, EventBusName, ...)
on standard output.

    .venv/bin/python demo/stack.py --endpoint http://127.0.0.1:PORT --stack NAME \
        --cluster my_cluster --group GROUP_NAME
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
BUCKET = "ecs-autoscale-demo-code"
KEY = "code.zip"


def sam_python() -> str:
    """An interpreter with aws-sam-translator: $SAM_PYTHON, .venv-sam, or this one."""
    for candidate in filter(None, [os.environ.get("SAM_PYTHON"), str(ROOT / ".venv-sam" / "bin" / "python"), sys.executable]):
        if Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import samtranslator"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    sys.exit(
        "demo/stack.py: no Python with aws-sam-translator to expand infra/template.yaml; "
        "create .venv-sam with `make sam-venv` (scripts/demo.sh does)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", default="ecs-autoscale-demo")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()

    expanded = subprocess.run(
        # --emulator: without the schema registry, which moto lacks.
        [sam_python(), str(ROOT / "infra" / "expand.py"), "--code-uri", f"s3://{BUCKET}/{KEY}", "--region", REGION, "--emulator"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def client(name: str):
        return session.client(name, endpoint_url=args.endpoint)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=buf.getvalue())

    cfn = client("cloudformation")
    parameters = {"ClusterNames": args.cluster, "AutoScalingGroupNames": args.group, "Architecture": "x86_64"}
    cfn.create_stack(
        StackName=args.stack,
        TemplateBody=expanded,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            sys.exit("demo/stack.py: the stack was not created within 60 s")
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        sys.exit(f"demo/stack.py: stack {stack['StackStatus']}: {stack.get('StackStatusReason')}")

    lam = client("lambda")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    for m in mappings:
        lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    outputs["Resources"] = len(cfn.list_stack_resources(StackName=args.stack)["StackResourceSummaries"])
    outputs["EventSourceMappings"] = len(mappings)
    print(json.dumps(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

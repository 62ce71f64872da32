#!/usr/bin/env python3
"""Expands infra/template.yaml (AWS SAM) into plain CloudFormation JSON, offline.

CloudFormation runs the SAM transform itself on a real deployment (`sam deploy`); emulators
such as moto do not, so the deploy test expands the template here first, with the same
translator library the SAM CLI uses (aws-sam-translator, installed with aws-sam-cli in
.venv-sam). No network access: the template uses explicit IAM roles, so the translator never
needs to look up AWS managed policies.

Deterministic: the same template, code location and parameters give the same bytes.

There is no build here, so every function's CodeUri and every layer's ContentUri (local
directories in the template) are replaced with one S3 location (--code-uri), e.g. a dummy zip
uploaded to the emulator's S3.

    python infra/expand.py [--template infra/template.yaml] [--code-uri s3://bucket/key.zip]
                           [--parameter Name=Value ...] [--region us-east-1] [--output expanded.json]
                           [--emulator]

`--emulator` leaves out the resources moto does not implement (NOT_EMULATED: the EventBridge
schema registry) and the outputs that name them, for the deploy test and the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
DEFAULT_CODE_URI = "s3://ecs-autoscale-placeholder/code.zip"

# CloudFormation's short-form tags -> their long form.
_FUNCTIONS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "FindInMap": "Fn::FindInMap",
    "GetAtt": "Fn::GetAtt",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "Sub": "Fn::Sub",
    "Transform": "Fn::Transform",
    "And": "Fn::And",
    "Equals": "Fn::Equals",
    "If": "Fn::If",
    "Not": "Fn::Not",
    "Or": "Fn::Or",
}


class _Loader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's `!Ref`, `!Sub`, ... tags."""


def _construct(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                resource, _, attribute = value.partition(".")
                value = [resource, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {_FUNCTIONS[tag]: value}

    return construct


for _tag in _FUNCTIONS:
    _Loader.add_constructor("!" + _tag, _construct(_tag))


def load_template(path: Path) -> dict[str, Any]:
    """Parses a CloudFormation/SAM YAML template into plain JSON-shaped data."""
    with path.open(encoding="utf-8") as f:
        template = yaml.load(f, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    if not isinstance(template, dict) or "Resources" not in template:
        raise ValueError(f"{path}: not a CloudFormation template (no Resources)")
    return template


def point_code_at(template: dict[str, Any], code_uri: str) -> None:
    """Replaces local code locations (functions' CodeUri, layers' ContentUri) with `code_uri`."""
    if not code_uri.startswith("s3://") or "/" not in code_uri[len("s3://") :]:
        raise ValueError(f"--code-uri must look like s3://bucket/key, not {code_uri!r}")
    for resource in template["Resources"].values():
        props = resource.setdefault("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            props["CodeUri"] = code_uri
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = code_uri


class _NoManagedPolicies:
    """Stands in for the translator's IAM look-up of AWS managed policy names (offline)."""

    def load(self) -> dict[str, str]:
        raise RuntimeError(
            "the template refers to an AWS managed policy by name; expand.py works offline, "
            "so give the policy's full ARN (or keep using explicit roles)"
        )


def expand(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """Runs the SAM transform (aws-sam-translator) on a parsed template.

    `region` only feeds the translator's pseudo parameters (it asks boto3 for a region); the
    output still refers to `AWS::Region`, so it deploys to any region.
    """
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.pop("AWS_REGION", None)
    try:
        from samtranslator.translator.transform import transform
    except ImportError:  # pragma: no cover - depends on the venv
        sys.exit(
            "expand.py needs aws-sam-translator (installed with aws-sam-cli): "
            "run it with .venv-sam/bin/python (make sam-venv)"
        )
    return transform(template, dict(parameters), _NoManagedPolicies())


# Resource types moto does not implement at all (its CloudFormation refuses the stack): the
# emulator gets the template without them (`--emulator`, for_emulator).
NOT_EMULATED = {"AWS::EventSchemas::Registry", "AWS::EventSchemas::Schema"}


def _references(value, logical_ids: set[str]) -> bool:
    """Whether a template value refers (Ref, GetAtt, Sub) to any of `logical_ids`."""
    if isinstance(value, dict):
        if value.get("Ref") in logical_ids:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] in logical_ids:
            return True
        return any(_references(v, logical_ids) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, logical_ids) for v in value)
    if isinstance(value, str):
        return any(f"${{{i}}}" in value or f"${{{i}." in value for i in logical_ids)
    return False


def for_emulator(template: dict) -> tuple[dict, list[str]]:
    """The template without the resources moto lacks and the outputs that name them, and what was
    left out (the deploy test and the demo create this on moto)."""
    left_out = {i for i, r in template["Resources"].items() if r["Type"] in NOT_EMULATED}
    out = json.loads(json.dumps(template))
    for logical_id in left_out:
        del out["Resources"][logical_id]
    outputs = out.get("Outputs", {})
    for name in [n for n, o in outputs.items() if _references(o, left_out)]:
        del outputs[name]
        left_out.add(f"output {name}")
    for logical_id, resource in out["Resources"].items():
        assert not _references(resource, left_out), f"{logical_id} refers to a resource left out"
    return out, sorted(left_out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--code-uri", default=DEFAULT_CODE_URI, help="s3://bucket/key of the code zip")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter the transform may need (repeatable)",
    )
    parser.add_argument("--region", default="us-east-1", help="region the translator assumes")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="leave out what moto does not implement (the schema registry) and say so on standard error",
    )
    args = parser.parse_args(argv)

    parameters: dict[str, str] = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--parameter wants NAME=VALUE, not {item!r}")
        parameters[name] = value

    template = load_template(args.template)
    point_code_at(template, args.code_uri)
    expanded = expand(template, parameters, args.region)
    if args.emulator:
        expanded, left_out = for_emulator(expanded)
        print(f"expand.py: left out for the emulator, which lacks them: {', '.join(left_out)}", file=sys.stderr)
    text = json.dumps(expanded, indent=2, sort_keys=True) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

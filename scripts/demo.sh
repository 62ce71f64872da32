#!/usr/bin/env bash
# make demo: the whole ecs-autoscale pipeline on this machine, in one command.
#
#   bash scripts/demo.sh [--cycles N] [--pause SECS] [--out-dir DIR]
#
# Sets up what it needs (each step is skipped when already done), then runs the demo:
#   1. .venv with the AWS emulator (moto)                      make venv
#   2. .venv-sam with aws-sam-translator, which expands         make sam-venv
#      infra/template.yaml exactly as the deploy test does
#   3. RabbitMQ from the Debian packages, if absent             scripts/rabbitmq.sh (root or sudo)
#   4. the optimized build of the demo and of `ecs-autoscale`   cargo build --profile demo (niced)
# The demo starts moto and RabbitMQ on 127.0.0.1, creates the stack from the template, runs the
# pipeline for a few cycles, prints a summary and a chart (and writes it as SVG), and stops
# everything it started, also on Ctrl-C or an error.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Python environment with the emulator (.venv)"
make --no-print-directory venv

if ! .venv-sam/bin/python -c 'import samtranslator' >/dev/null 2>&1; then
    step "aws-sam-translator for the template's expansion (.venv-sam; once, a minute or two)"
    if make -n sam-venv >/dev/null 2>&1; then
        make --no-print-directory sam-venv
    else
        python3 -m venv .venv-sam
        .venv-sam/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
    fi
fi

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || ! command -v epmd >/dev/null 2>&1; then
    step "RabbitMQ (Debian packages)"
    bash scripts/rabbitmq.sh
fi

step "optimized build (profile demo) of the demo and the CLI (the first time takes several minutes)"
nice -n 19 cargo build --profile demo --quiet -p ecs-autoscale-demo -p ecs-autoscale-cli

step "the demo"
target/demo/ecs-autoscale-demo "$@"
echo >&2
echo "the command line: target/demo/ecs-autoscale --help (plan, inject, watch, run, validate)" >&2

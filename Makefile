# Every set-up step the project needs lives here; nothing is installed by hand.
VENV        := .venv
PY          := $(VENV)/bin/python
MOTO_SERVER := $(VENV)/bin/moto_server
CFN_LINT    := $(VENV)/bin/cfn-lint

.PHONY: test demo venv rabbitmq fmt-check clippy cargo-test validate schemas clean-venv

## make test: the whole check that CI runs (venv, formatting, lints, every test).
test: venv fmt-check clippy cargo-test infra-lint infra-test

## The project-local Python environment with the AWS emulator and the template linter.
venv: $(MOTO_SERVER)

$(MOTO_SERVER): requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(MOTO_SERVER)

## RabbitMQ for the collector's end-to-end test (Debian package, installed when missing;
## the tests start and stop their own broker on loopback), and the `openssl` command the test
## bed's HTTPS server makes its certificate with.
rabbitmq:
	bash scripts/rabbitmq.sh

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# The demo's scenario test deploys the template on the emulator, which needs .venv-sam.
cargo-test: venv sam-venv rabbitmq
	cargo test --workspace

## make demo: the whole pipeline on the local emulator (moto + RabbitMQ on 127.0.0.1), the stack
## from infra/template.yaml, a load that rises and falls, a summary and a chart (SVG in target/demo/).
## `make demo DEMO_ARGS="--cycles 14 --pause 1"` passes options to the demo.
DEMO_ARGS ?=
demo:
	bash scripts/demo.sh $(DEMO_ARGS)

## make validate: check the cluster definitions in clusters/.
validate:
	cargo run --quiet -p ecs-autoscale-cli -- validate clusters/

## make schemas: regenerate the JSON Schemas from the Rust types: schemas/*.schema.json and the
## event schemas embedded in infra/template.yaml (what `ecs-autoscale schema` prints). The same
## test without UPDATE_SCHEMAS (part of `make test`) fails while they are out of date.
schemas:
	UPDATE_SCHEMAS=1 cargo test --workspace --test schema_files

clean-venv:
	rm -rf $(VENV)

## ---- infra/ (AWS SAM): see infra/README.md "Deploy to AWS" -------------------------------
## Uses VENV, PY, CFN_LINT, the `venv` and `validate` targets of the main Makefile.
VENV_SAM := .venv-sam
SAM      := $(VENV_SAM)/bin/sam
# sam, cargo-lambda and zig on PATH; no telemetry.
SAM_RUN  := PATH="$(CURDIR)/$(VENV_SAM)/bin:$$PATH" SAM_CLI_TELEMETRY=0
# Architecture of `make sam-build` (x86_64 builds here without extra Rust targets; arm64 needs
# `rustup target add aarch64-unknown-linux-gnu`). Deploy with the same Architecture parameter.
SAM_ARCH ?= x86_64

.PHONY: infra-lint infra-test sam-venv sam-build lambda-smoke

## The SAM CLI and cargo-lambda, in a venv of their own (aws-sam-cli pins an older boto3 than moto).
sam-venv: $(SAM)

$(SAM): requirements-sam.txt
	python3 -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $(SAM)

## make infra-lint: cfn-lint and `sam validate --lint` on infra/template.yaml (offline).
infra-lint: venv sam-venv
	$(CFN_LINT) infra/template.yaml
	cd infra && $(SAM_RUN) sam validate --lint --template template.yaml --region us-east-1

## make infra-test: the deploy test (SAM expanded locally, stack created on moto; < 15 s).
infra-test: venv sam-venv
	SAM_PYTHON=$(VENV_SAM)/bin/python $(PY) infra/tests/test_deploy.py

## make sam-build: THE way to build for `sam deploy`. Validates clusters/ first (the layer's
## build validates again, so a plain `sam build` fails on an invalid file too), then builds the
## three functions in release with cargo-lambda (minutes: the whole workspace) into infra/.aws-sam/.
sam-build: validate sam-venv
	cd infra && $(SAM_RUN) sam build --parameter-overrides Architecture=$(SAM_ARCH)
	@echo "built for $(SAM_ARCH): deploy with Architecture=$(SAM_ARCH) (cd infra && sam deploy --guided)"


## make lambda-smoke: the three functions built in release as `sam build` builds them
## (`cargo lambda build --release`, x86_64: target/lambda/NAME/bootstrap), each run under the test
## bed's Lambda Runtime API emulator against moto and the stack from infra/template.yaml, invoked
## with real events (its answers checked), then one `footprint:` line per function. Minutes (the
## release build); not part of `make test`. The driver is built with the tests (`cargo test
## --no-run`: the features of `make test`, so no second build of the dependencies).
lambda-smoke: venv sam-venv
	$(SAM_RUN) CARGO_INCREMENTAL=0 cargo lambda build --release --bin collector --bin planner --bin executor
	CARGO_INCREMENTAL=0 cargo test --workspace --no-run --quiet
	target/debug/lambda-smoke --bin-dir target/lambda

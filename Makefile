# Every set-up step the project needs lives here; nothing is installed by hand.
VENV        := .venv
PY          := $(VENV)/bin/python
MOTO_SERVER := $(VENV)/bin/moto_server
CFN_LINT    := $(VENV)/bin/cfn-lint

.PHONY: test venv rabbitmq fmt-check clippy cargo-test validate clean-venv

## make test: the whole check that CI runs (venv, formatting, lints, every test).
test: venv fmt-check clippy cargo-test

## The project-local Python environment with the AWS emulator and the template linter.
venv: $(MOTO_SERVER)

$(MOTO_SERVER): requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(MOTO_SERVER)

## RabbitMQ for the collector's end-to-end test (Debian package, installed when missing;
## the tests start and stop their own broker on loopback).
rabbitmq:
	bash scripts/rabbitmq.sh

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

cargo-test: venv rabbitmq
	cargo test --workspace

## make validate: check the cluster definitions in clusters/.
validate:
	cargo run --quiet -p ecs-autoscale-cli -- validate clusters/

clean-venv:
	rm -rf $(VENV)

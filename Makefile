# Every set-up step the project needs lives here; nothing is installed by hand.
VENV        := .venv
PY          := $(VENV)/bin/python
MOTO_SERVER := $(VENV)/bin/moto_server
CFN_LINT    := $(VENV)/bin/cfn-lint

.PHONY: test venv fmt-check clippy cargo-test validate clean-venv

## make test: the whole check that CI runs (venv, formatting, lints, every test).
test: venv fmt-check clippy cargo-test

## The project-local Python environment with the AWS emulator and the template linter.
venv: $(MOTO_SERVER)

$(MOTO_SERVER): requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(MOTO_SERVER)

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

cargo-test: venv
	cargo test --workspace

## make validate: check the cluster definitions in clusters/.
validate:
	cargo run --quiet -p ecs-autoscale-cli -- validate clusters/

clean-venv:
	rm -rf $(VENV)

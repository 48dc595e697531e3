# Two entry points for users: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60

.PHONY: setup test demo clean

setup: $(STAMP)

# torch goes first: otherwise a dependency may pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 || $(BIN)/pip install -q torch
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# two workers: most tests wait on subprocesses and Prefect servers, so the suite takes half the time on 2 cores;
# by module, so a module's expensive shared fixture (a batch of adversarial campaigns) is built once, not per worker
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not gpu" -n 2 --dist loadscope $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/alphalab demo

clean:
	rm -rf $(VENV) .pytest_cache

# wxface — the two README commands (`make demo`, `make test`) and the developer targets.
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test lint fmt bench setup clean

setup:
	scripts/setup.sh

test: setup
	$(MAKE) --no-print-directory lint
	scripts/pytest.sh

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

demo:
	scripts/setup.sh --no-postgres --plugins
	$(PY) -m bench.demo

bench:
	scripts/setup.sh --bench
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

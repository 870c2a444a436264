# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs seldb, runs the offline demo
#   make test   creates .venv, installs seldb with test extras, runs the tests
# and one keeps the code honest:
#   make lint   ruff (lint + format check) and mypy over seldb/ and cli/
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint format bench install clean

$(BIN)/.seldb-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[torch,demo,test]'
	touch $@

install: $(BIN)/.seldb-installed

demo: install
	$(BIN)/seldb demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# cli/ is installed as the package seldb_cli: mypy finds it through build/mypy/seldb_cli (pyproject's mypy_path)
lint: install
	mkdir -p build/mypy && ln -sfn ../../cli build/mypy/seldb_cli
	$(BIN)/ruff check seldb cli tests benchmarks migrations
	$(BIN)/ruff format --check seldb cli tests benchmarks migrations
	$(BIN)/mypy seldb build/mypy/seldb_cli

format: install
	$(BIN)/ruff check --fix seldb cli tests benchmarks migrations
	$(BIN)/ruff format seldb cli tests benchmarks migrations

bench: install
	$(BIN)/python benchmarks/import_alexnet_scale.py

clean:
	rm -rf $(VENV) build *.egg-info

# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs seldb, runs the offline demo
#   make test   creates .venv, installs seldb with test extras, runs the tests
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: demo test bench install clean

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

bench: install
	$(BIN)/python benchmarks/import_alexnet_scale.py

clean:
	rm -rf $(VENV) build *.egg-info

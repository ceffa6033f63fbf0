# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[all,test,bench]'
	touch $(VENV)/.bench

demo: $(STAMP)
	$(PY) -m gxpml.demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(VENV)/.bench
	$(PY) bench/run.py

fuzz: $(STAMP)
	GXPML_FUZZ_EXAMPLES=500 $(PY) -m pytest tests/api/test_openapi_fuzz.py

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .hypothesis

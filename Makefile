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

# The browser tests drive Debian's Chromium (no browser download: the network is closed).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null); \
	else echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium"; exit 1; fi

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[all,test,bench]'
	touch $(VENV)/.bench

demo: $(STAMP)
	$(PY) -m gxpml.demo

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

bench: $(VENV)/.bench
	$(PY) bench/run.py

fuzz: $(STAMP)
	GXPML_FUZZ_EXAMPLES=500 $(PY) -m pytest tests/api/test_openapi_fuzz.py

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .hypothesis

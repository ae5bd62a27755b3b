# Developer commands. Only Python 3.11 and make are needed; everything else is installed here.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
AWS_PORT ?= 5000
STAGE ?= local

.PHONY: run test clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed ## Start the local service (moto on AWS_PORT, API on PORT)
	PORT=$(PORT) AWS_PORT=$(AWS_PORT) $(PY) -m localservice

test: $(VENV)/.installed ## Run every test
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) outbox .pytest_cache

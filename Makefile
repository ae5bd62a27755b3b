# Developer commands. Only Python 3.11 and make are needed; everything else is installed here.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
AWS_PORT ?= 5000
STAGE ?= local

AXE_VERSION := $(shell sed -n 's/.*"axe-core": *"\([^"]*\)".*/\1/p' tests/browser/package.json)
AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: run test axe clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-staff.txt infrastructure/requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt -r infrastructure/requirements.txt
	touch $@

run: $(VENV)/.installed ## Start the local service (moto on AWS_PORT, API on PORT)
	PORT=$(PORT) AWS_PORT=$(AWS_PORT) $(PY) -m localservice

test: $(VENV)/.installed axe ## Run every test (browser tests skip with a message where Chromium is missing)
	$(PY) -m pytest -n 2 --dist loadgroup -q --ignore=tests/infrastructure
	$(PY) -m pytest -n 2 -q tests/infrastructure

axe: ## axe-core from npm for the accessibility check (tests/browser/package.json pins it)
	@if [ -f $(AXE) ] && grep -q '"version": "$(AXE_VERSION)"' tests/browser/node_modules/axe-core/package.json; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  npm install --prefix tests/browser --no-audit --no-fund --no-package-lock --loglevel=error \
	    || echo "npm install of axe-core failed: the accessibility check will be skipped"; \
	else echo "npm not found: the accessibility check (axe-core) will be skipped"; fi

include infrastructure/infra.mk

clean:
	rm -rf $(VENV) outbox .pytest_cache test-artifacts tests/browser/node_modules

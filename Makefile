# Developer commands. Only Python 3.11 and make are needed; everything else is installed here.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# --no-compile: Python compiles each module when it is first imported, instead of pip compiling all of
# moto, botocore and the CDK at install (half the install time on a busy machine).
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile
PORT ?= 8000
AWS_PORT ?= 5000
STAGE ?= local
# make run FRESH=1 starts with no data (the last save is kept in .local-state/previous/).
FRESH ?=

AXE_VERSION := $(shell sed -n 's/.*"axe-core": *"\([^"]*\)".*/\1/p' tests/browser/package.json)
AXE := tests/browser/node_modules/axe-core/axe.min.js
# Browser scripts the service serves (GET /static/vendor/{name}), from pinned npm packages
# (browser-scripts/package.json and its lock file): the door page's QR decoder. Copied, not committed.
# Not in a folder named vendor/: Chalice copies that one into the root of the Lambda zip.
VENDORED_DIR := chalicelib/templates/static/vendor
VENDORED := $(VENDORED_DIR)/jsQR.js
ICALJS_VERSION := $(shell sed -n 's/.*"ical.js": *"\([^"]*\)".*/\1/p' tests/browser/package.json)
ICALJS := tests/browser/node_modules/ical.js/package.json

# The CDK's jsii runtime relays Node's end-of-life banner through Python as b'!!!...' byte strings,
# which looks like a crash; docs/deploy.md: silence it for the Node in use. Set the variable yourself
# (empty to see the banner) to choose otherwise.
ifeq ($(origin JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION),undefined)
JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p "process.versions.node.split('.')[0]" 2>/dev/null)
endif
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION

.PHONY: run test test-suites lint axe vendored vendored-if-npm clean

# Each set of requirements has its own stamp, so each target installs only what it needs:
#   .venv/.venv-ready     the virtual environment and pip
#   .venv/.installed-local  requirements-local.txt: the Lambda runtime plus chalice and moto (make run)
#   .venv/.installed-staff  requirements-staff.txt: the staff tools (make run, for the banner's command)
#   .venv/.installed        everything: tests, infrastructure (make test, infrastructure/infra.mk)
$(VENV)/.venv-ready:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	touch $@

$(VENV)/.installed-local: requirements.txt requirements-local.txt | $(VENV)/.venv-ready
	$(PIP) -r requirements-local.txt
	touch $@

$(VENV)/.installed-staff: requirements.txt requirements-staff.txt | $(VENV)/.venv-ready
	$(PIP) -r requirements-staff.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-local.txt requirements-staff.txt requirements-dev.txt infrastructure/requirements.txt | $(VENV)/.venv-ready
	$(PIP) -r requirements-dev.txt -r infrastructure/requirements.txt
	touch $(VENV)/.installed-local $(VENV)/.installed-staff $@

run: $(VENV)/.installed-local $(VENV)/.installed-staff vendored-if-npm ## Start the local service (moto on AWS_PORT, API on PORT)
	@# exec: the service's parent is make itself, so a SIGTERM to make alone (which make does not pass
	@# on) leaves an orphan that notices and stops (localservice/__main__.py, _stop_when_orphaned).
	PORT=$(PORT) AWS_PORT=$(AWS_PORT) FRESH=$(FRESH) exec $(PY) -m localservice

test: $(VENV)/.installed axe vendored-if-npm ## Run every test (browser tests skip with a message where Chromium is missing)
	@$(MAKE) --no-print-directory test-suites

# The app's tests and the infrastructure tests run apart (synthesis loads both cores for ~30 s). Both
# always run; the end repeats both pytest summaries and fails if either run failed. Logs: $(TEST_LOGS)/.
TEST_LOGS ?= test-artifacts
test-suites:
	@mkdir -p $(TEST_LOGS); \
	{ $(PY) -m pytest -n 2 --dist loadgroup -q --ignore=tests/infrastructure; echo $$? > $(TEST_LOGS)/pytest-app.rc; } 2>&1 \
	  | tee $(TEST_LOGS)/pytest-app.log; \
	{ $(PY) -m pytest -n 2 -q tests/infrastructure; echo $$? > $(TEST_LOGS)/pytest-infra.rc; } 2>&1 \
	  | tee $(TEST_LOGS)/pytest-infra.log; \
	app=$$(cat $(TEST_LOGS)/pytest-app.rc); infra=$$(cat $(TEST_LOGS)/pytest-infra.rc); \
	echo; echo "make test:"; \
	echo "  app tests:            $$(tail -n 1 $(TEST_LOGS)/pytest-app.log)  (exit $$app; $(TEST_LOGS)/pytest-app.log)"; \
	echo "  infrastructure tests: $$(tail -n 1 $(TEST_LOGS)/pytest-infra.log)  (exit $$infra; $(TEST_LOGS)/pytest-infra.log)"; \
	if [ "$$app" -eq 0 ] && [ "$$infra" -eq 0 ]; then echo "  all passed"; else echo "  FAILED"; exit 1; fi

lint: $(VENV)/.installed ## Ruff (style, bugs, security, complexity) and mypy --strict (pyproject.toml)
	$(PY) -m ruff check .
	$(PY) -m mypy

axe: ## axe-core and ical.js from npm, for the accessibility and calendar checks (tests/browser/package.json pins them)
	@if [ -f $(AXE) ] && grep -q '"version": "$(AXE_VERSION)"' tests/browser/node_modules/axe-core/package.json \
	  && [ -f $(ICALJS) ] && grep -q '"version": "$(ICALJS_VERSION)"' $(ICALJS); then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  npm install --prefix tests/browser --no-audit --no-fund --no-package-lock --loglevel=error \
	    || echo "npm install of axe-core and ical.js failed: the accessibility and ical.js checks will be skipped"; \
	else echo "npm not found: the accessibility (axe-core) and ical.js checks will be skipped"; fi

# npm ci checks each package against the lock file's integrity hash; only the files the service serves
# are copied (with the package's licence). The Lambda package takes them from chalicelib/ like any file there.
$(VENDORED): browser-scripts/package.json browser-scripts/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js) is needed for the door page's QR decoder (jsQR): see README, Check-in at the door"; exit 1; }
	npm ci --prefix browser-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDORED_DIR)
	cp browser-scripts/node_modules/jsqr/dist/jsQR.js $(VENDORED)
	cp browser-scripts/node_modules/jsqr/LICENSE $(VENDORED_DIR)/jsQR.LICENSE.txt

vendored: $(VENDORED) ## The door page's QR decoder (jsQR) from npm, pinned by browser-scripts/package-lock.json

# make run and make test go on without npm: the door page then scans with the browser's BarcodeDetector
# only (where there is one), and codes can still be typed or people found by name.
vendored-if-npm:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(VENDORED); \
	elif [ ! -f $(VENDORED) ]; then echo "npm not found: the door page will scan QR codes only where the browser has BarcodeDetector"; fi

include infrastructure/infra.mk

clean: ## Remove the virtual environment, outbox and test output (the kept data in .local-state/ stays)
	rm -rf $(VENV) outbox .pytest_cache test-artifacts tests/browser/node_modules browser-scripts/node_modules $(VENDORED_DIR)

# Deployment targets (docs/deploy.md). Included by the main Makefile, which
# defines VENV, PY and the $(VENV)/.installed target.
#
#   make synth STAGE=prod          template -> infrastructure/cdk.out (no AWS, no CDK CLI)
#   make deploy STAGE=prod         package check, SES check, bootstrap if needed, deploy, URLs
#   make package-check STAGE=prod  chalice package; fails on unresolved dependencies
#   make cfn-lint STAGE=prod       synth + cfn-lint
#   make checkov STAGE=prod        synth + checkov (pinned, in .venv/checkov; infrastructure/checkov.yaml)
#   make cdk-deps                  the pinned CDK CLI, into infrastructure/node_modules
#   make test-infra                tests/infrastructure alone (synthesis, cfn-lint, package)

INFRA := infrastructure
CDK := $(INFRA)/node_modules/.bin/cdk
# cdk deploy asks before IAM/security-group changes in a terminal; CI can set never.
CDK_APPROVAL ?= broadening
CDK_APP := $(abspath $(PY)) cdk_app.py

.PHONY: synth deploy cdk-deps package-check cfn-lint checkov infra-stage test-infra

# STAGE must be a deployable stage (infrastructure/stages.json), not local.
infra-stage: $(VENV)/.installed
	@$(PY) $(INFRA)/stage_settings.py $(STAGE)

$(CDK): $(INFRA)/package.json $(INFRA)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 18+) is needed for the CDK CLI: see docs/deploy.md"; exit 1; }
	cd $(INFRA) && npm ci --no-audit --no-fund
	@touch $@

cdk-deps: $(CDK) ## The pinned AWS CDK CLI in infrastructure/node_modules

synth: infra-stage $(VENDORED) ## Write the stage's CloudFormation template (offline)
	@command -v node >/dev/null 2>&1 || { echo "Node.js is needed for CDK synthesis: see docs/deploy.md"; exit 1; }
	STAGE=$(STAGE) $(PY) $(INFRA)/cdk_app.py

cfn-lint: synth ## Lint the stage's synthesised template
	$(VENV)/bin/cfn-lint $(INFRA)/cdk.out/$(STAGE).template.json && echo "cfn-lint: $(INFRA)/cdk.out/$(STAGE).template.json is clean"

checkov: synth ## checkov on the stage's synthesised template (its own venv, made on first use)
	$(PY) $(INFRA)/checkov_env.py $(INFRA)/cdk.out/$(STAGE).template.json

package-check: infra-stage $(VENDORED) ## chalice package STAGE; unresolved dependency = failure
	$(PY) $(INFRA)/package_check.py --stage $(STAGE)

deploy: infra-stage $(CDK) $(VENDORED) ## Deploy STAGE to the AWS account of your credentials
	$(PY) $(INFRA)/preflight.py --stage $(STAGE) alarm
	$(PY) $(INFRA)/package_check.py --stage $(STAGE)
	$(PY) $(INFRA)/preflight.py --stage $(STAGE) ses
	@rc=0; $(PY) $(INFRA)/preflight.py --stage $(STAGE) bootstrapped || rc=$$?; \
	if [ $$rc -eq 1 ]; then \
	  echo "Bootstrapping the CDK in this account/region (once)"; \
	  cd $(INFRA) && ./node_modules/.bin/cdk bootstrap --app "$(CDK_APP)" -c stage=$(STAGE) || exit $$?; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	cd $(INFRA) && ./node_modules/.bin/cdk deploy --app "$(CDK_APP)" -c stage=$(STAGE) \
	  --require-approval $(CDK_APPROVAL) --outputs-file cdk.out/outputs-$(STAGE).json
	$(PY) $(INFRA)/outputs.py --stage $(STAGE) $(INFRA)/cdk.out/outputs-$(STAGE).json

# Run apart from the app's tests: synthesis and packaging load both cores for
# ~30 s, and some app tests are timing-sensitive (a pinned clock that runs on
# from import, 100 concurrent registrations).
test-infra: $(VENV)/.installed ## Infrastructure tests (synthesis, cfn-lint, checkov, the Lambda package)
	$(PY) -m pytest -n 2 -q tests/infrastructure

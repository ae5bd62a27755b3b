#!/usr/bin/env bash
# Make sure Node.js is on PATH: CDK synthesis (the infrastructure tests and
# `make synth`) runs the jsii runtime on Node. Uses the machine's Node if
# there is one, else Debian's nodejs package. Called by .ci/run.
set -euo pipefail
if command -v node >/dev/null 2>&1; then
  echo "node $(node --version) found"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  echo "installed node $(node --version)"
else
  echo "Node.js not found and no apt-get: install Node.js 18+ (see docs/deploy.md)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Set up (idempotent) and run the test suite offline. Arguments, if any, replace the default `tests`
# (e.g. `bash scripts/test.sh tests/test_core_run.py -x`).
#
# Hook: every scripts/test-setup.d/*.sh runs after setup.sh and before pytest (e.g. a system package a
# test needs: `apt-get install -y chromium`). Hooks must be idempotent and fail loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
shopt -s nullglob
for hook in scripts/test-setup.d/*.sh; do
  echo "test.sh: running $hook"
  bash "$hook"
done
export HF_HUB_OFFLINE=1
# the floors of the house (import-linter contracts in pyproject.toml): a broken contract fails the suite
.venv/bin/lint-imports --no-cache
set +e
if [ "$#" -gt 0 ]; then
  .venv/bin/python -m pytest -q "$@"
else
  .venv/bin/python -m pytest -q tests
fi
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; the suite must not be empty" >&2
  exit 1
fi
exit "$code"

#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the default mini zoo. Extra arguments go to `emobench run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1   # everything emobench needs ships with it; nothing is downloaded
exec .venv/bin/emobench run --methods sd,textual-inversion,emogen --n-per-emotion 8 "$@"

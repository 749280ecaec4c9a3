#!/usr/bin/env bash
# A TeX engine with booktabs + amssymb for the LaTeX leaderboard test (tests/test_report_latex.py). Idempotent, quiet.
set -euo pipefail
if command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "latex.sh: apt-get not found; install pdflatex with booktabs and amssymb yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends texlive-latex-base texlive-latex-recommended >/dev/null
command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null

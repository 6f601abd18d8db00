#!/usr/bin/env bash
# Sets up Facial Emotion Lab in a virtual environment, .venv/ in this folder (a stock Debian or Ubuntu
# python3 refuses `pip install` outside one: PEP 668, "externally-managed-environment").
#   bash install.sh         the app:  then  .venv/bin/streamlit run Home.py
#   bash install.sh --dev   the app + the test tools (pytest, Playwright, Debian's chromium and PostgreSQL
#                           for the browser and database tests):  then  .venv/bin/python -m pytest
# PYTHON=/path/to/python3.11 picks the interpreter (default: python3). Run it again at any time: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV=.venv
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

say() { printf '%s\n' "$*"; }
die() { say "install.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- the interpreter, checked before anything is installed
command -v "$PY" >/dev/null 2>&1 || die "no $PY found: install Python 3.11 (Debian/Ubuntu: sudo apt install python3.11 python3.11-venv), or set PYTHON=/path/to/python3.11"
version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = "3.11" ] || die "Python 3.11 is needed (the pinned wheels in requirements.txt are built for it); $PY is $version. Install python3.11 and run: PYTHON=python3.11 bash install.sh"
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    die "$PY cannot make a virtual environment: its venv module is missing. On Debian/Ubuntu: sudo apt install python3-venv (or python3.11-venv), then run this again."
  fi
  say "making the virtual environment $VENV with $PY ($version)"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# ---------------------------------------------------------------- Python packages
req=requirements.txt
[ "$DEV" = 1 ] && req=requirements-dev.txt
"$VPY" -m pip install --quiet --disable-pip-version-check -r "$req"

# ---------------------------------------------------------------- system packages the tests need
if [ "$DEV" = 1 ]; then
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  if [ "${#need[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "installing Debian packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
say "installed ($req) in $VENV: run the app with  $VENV/bin/streamlit run Home.py"

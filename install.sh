#!/usr/bin/env bash
# Sets up Facial Emotion Lab in a virtual environment, .venv/ in this folder (a stock Debian or Ubuntu
# python3 refuses `pip install` outside one: PEP 668, "externally-managed-environment").
#   bash install.sh         the app:  then  .venv/bin/streamlit run Home.py
#   bash install.sh --dev   the app + the test tools (pytest, Playwright, Debian's chromium and PostgreSQL
#                           for the browser and database tests):  then  .venv/bin/python -m pytest
# Python 3.11, 3.12 or 3.13: python3 if it is one of them, else python3.13, python3.12 or python3.11 from the
# PATH; PYTHON=/path/to/python3.x picks one. Run it again at any time: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV="${FEL_VENV:-.venv}"  # FEL_VENV: another folder (CI checks a second Python in .venv-second)
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

say() { printf '%s\n' "$*"; }
die() { say "install.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- the interpreter, checked before anything is installed
SUPPORTED="3.11 3.12 3.13"  # every pinned wheel exists for these (TensorFlow has none for 3.14 yet)
py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
supported() { case " $SUPPORTED " in *" $1 "*) return 0;; esac; return 1; }
if [ -z "${PYTHON:-}" ] && { ! command -v "$PY" >/dev/null 2>&1 || ! supported "$(py_version "$PY")"; }; then
  for candidate in python3.13 python3.12 python3.11; do  # python3 is another version: a supported one beside it?
    if command -v "$candidate" >/dev/null 2>&1 && supported "$(py_version "$candidate")"; then
      say "python3 is $(py_version "$PY" || echo missing); using $candidate"
      PY="$candidate"
      break
    fi
  done
fi
command -v "$PY" >/dev/null 2>&1 || die "no $PY found: install Python 3.11, 3.12 or 3.13 (Debian/Ubuntu: sudo apt install python3 python3-venv), or set PYTHON=/path/to/python3.13"
version=$(py_version "$PY")
if ! supported "$version"; then
  case "$version" in
    3.1[4-9]) why="TensorFlow (which DeepFace runs on) has no wheel for Python $version yet";;
    *) why="the pinned wheels in requirements.txt are built for 3.11-3.13";;
  esac
  die "Python 3.11, 3.12 or 3.13 is needed ($why); $PY is ${version:-not runnable}. Install one (Debian/Ubuntu: sudo apt install python3.13 python3.13-venv; or pyenv install 3.13) and run: PYTHON=python3.13 bash install.sh"
fi
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
# ---------------------------------------------------------------- YuNet's model file (OpenCV runs it), once
# FEL_YUNET_MODEL's file is checked (never replaced); else model/detectors/ is checked and, if need be, downloaded.
# Either way it says which file YuNet will use, or why it cannot run (the app then finds faces with Haar).
if yunet=$("$VPY" -m core detectors --fetch-yunet 2>&1); then
  say "$(printf '%s\n' "$yunet" | head -n 1)"  # YuNet will use <file>
else
  say "$(printf '%s\n' "$yunet" | sed -n 's/^error: //p' | head -n 1)"
fi
say "installed ($req) in $VENV with Python $version: run the app with  $VENV/bin/streamlit run Home.py"

#!/usr/bin/env bash
# Installs what Facial Emotion Lab needs into the current Python (3.11).
#   bash install.sh         the app
#   bash install.sh --dev   the app + the test tools (pytest, Playwright, Debian's chromium for browser tests)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
req=requirements.txt
[ "${1:-}" = "--dev" ] && req=requirements-dev.txt
"$PY" -m pip install --quiet --disable-pip-version-check -r "$req"
if [ "${1:-}" = "--dev" ] && ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "installed ($req)"

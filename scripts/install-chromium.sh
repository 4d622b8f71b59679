#!/usr/bin/env bash
# Debian's Chromium for the web UI's browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser). Does nothing when Chromium is there; needs root (or sudo) to install it.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends chromium; }

#!/usr/bin/env bash
# Installs Debian's chromium and its matching chromium-driver for the browser tests
# (tests/browser.py), quietly and only when one is missing. Needs root or passwordless sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
as_root=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then as_root="sudo -n"; else
    echo "install-browser: not root and no sudo: install chromium and chromium-driver, or run pytest -m 'not browser'" >&2
    exit 1
  fi
fi
log="$(mktemp)"
{ $as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium chromium-driver; } >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"

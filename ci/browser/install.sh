#!/usr/bin/env bash
# Install headless Chromium (Debian chromium) for the report's browser test
# (tests/test_browser.py). Idempotent: does nothing when it is already installed.
set -euo pipefail

if command -v chromium >/dev/null; then
    echo "ci/browser/install.sh: already installed: $(command -v chromium)"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    sudo=(sudo)
fi

echo "ci/browser/install.sh: installing chromium"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium

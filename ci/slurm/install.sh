#!/usr/bin/env bash
# Install a one-node SLURM (Debian slurm-wlm) and munge, for CI and for local testing.
# Idempotent: does nothing when the packages are already installed.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)

missing=()
for p in "${packages[@]}"; do
    # dpkg-query prints "install ok installed" only for fully installed packages.
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "ci/slurm/install.sh: already installed: ${packages[*]}"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    sudo=(sudo)
fi

echo "ci/slurm/install.sh: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
# No systemd here: the packages' postinst scripts must not try to start services.
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"

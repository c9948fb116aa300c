#!/usr/bin/env bash
# Snakemake runs this once, inside the new conda environment, from its working
# directory (the repository root): see torch.post-deploy.sh.
set -euo pipefail
if ! grep -qs '^name = "idunlearn"' pyproject.toml; then
    echo "post-deploy: no idunlearn pyproject.toml in $PWD; run Snakemake from the repository root" >&2
    exit 1
fi
# --no-deps: facenet-pytorch's own pins (torch < 2.3, ...) would replace the env's torch.
python -m pip install --no-deps facenet-pytorch==2.6.0
python -m pip install --no-deps --no-build-isolation -e .

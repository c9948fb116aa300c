#!/usr/bin/env bash
# Snakemake runs this once, inside the new conda environment, from its working
# directory (the repository root). It installs the project itself, editable and
# without dependencies (the env file pins them all).
#
# Not as `- -e ../` in the env file's pip section: conda resolves such a path
# against the env file's directory, but Snakemake first copies the env file into
# its conda prefix (.snakemake/conda/<hash>.yaml), where ../ is not the repository.
set -euo pipefail
if ! grep -qs '^name = "idunlearn"' pyproject.toml; then
    echo "post-deploy: no idunlearn pyproject.toml in $PWD; run Snakemake from the repository root" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation -e .

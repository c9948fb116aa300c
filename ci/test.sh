#!/usr/bin/env bash
# The README's test command: install the project, start a private one-node SLURM and
# install headless Chromium (when root can), run every test (unit, tiny workflow end to
# end, its report in the browser, SLURM), stop SLURM.
set -euo pipefail
cd "$(dirname "$0")/.."

# constraints.txt: the versions CI passed with (ci/constraints.py), not open ranges.
python -m pip install -q -c constraints.txt -e ".[workflow,dev]"
# facenet-pytorch pins torch < 2.3 in its metadata but works with 2.14: no deps.
python -m pip install -q -c constraints.txt --no-deps facenet-pytorch==2.6.0

slurm_started=0
if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    bash ci/browser/install.sh  # headless Chromium for tests/test_browser.py
    bash ci/slurm/install.sh
    bash ci/slurm/start.sh
    slurm_started=1
    export SLURM_CONF=${CI_SLURM_STATE:-/tmp/idunlearn-slurm}/etc/slurm.conf
fi
stop_slurm() { if [[ $slurm_started -eq 1 ]]; then bash ci/slurm/stop.sh || true; fi; }
trap stop_slurm EXIT

python -m ruff check src scripts tests bench
snakefmt --check Snakefile workflow
python -m pytest -ra --durations=25 "$@"

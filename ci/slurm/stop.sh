#!/usr/bin/env bash
# Stop the one-node SLURM cluster that ci/slurm/start.sh started: exactly the PIDs it
# recorded (never other daemons by name), after cancelling the jobs left on it.
# Environment: CI_SLURM_STATE (default /tmp/idunlearn-slurm), as for start.sh.
set -euo pipefail

state=${CI_SLURM_STATE:-/tmp/idunlearn-slurm}
log() { echo "ci/slurm/stop.sh: $*"; }

if [[ ! -d $state/pids ]]; then
    log "nothing to stop (no $state/pids)"
    exit 0
fi
export SLURM_CONF=$state/etc/slurm.conf

# Is PID $1 still the live daemon $2 we started (not a reused PID, not a zombie)?
is_ours() {
    [[ -r /proc/$1/comm && $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] &&
        [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

ctld_pid=$(cat "$state/pids/slurmctld.pid" 2>/dev/null || true)
if [[ -n $ctld_pid ]] && is_ours "$ctld_pid" slurmctld; then
    # Every job on this private cluster is a test job; cancel them so that no job step
    # outlives slurmd.
    jobs=$(timeout 10 squeue -h -t PD,R,CG -o %i 2>/dev/null || true)
    if [[ -n $jobs ]]; then
        log "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
        # shellcheck disable=SC2086  # one job id per word
        timeout 10 scancel $jobs || true
        for _ in $(seq 20); do
            [[ -z $(timeout 10 squeue -h -t R,CG -o %i 2>/dev/null || true) ]] && break
            sleep 0.5
        done
    fi
fi

# slurmd before slurmctld before munged: the reverse of the start order.
for name in slurmd slurmctld munged; do
    pidfile=$state/pids/$name.pid
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    if is_ours "$pid" "$name"; then
        kill -TERM "$pid"
        for _ in $(seq 40); do
            is_ours "$pid" "$name" || break
            sleep 0.25
        done
        if is_ours "$pid" "$name"; then
            log "$name ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" || true
        fi
        log "stopped $name ($pid)"
    else
        log "$name ($pid) was not running"
    fi
    rm -f "$pidfile"
done

# Remove the /etc/slurm/slurm.conf link that start.sh made, if it still points at ours.
if [[ -f $state/pids/linked-conf ]]; then
    link=$(cat "$state/pids/linked-conf")
    if [[ -L $link && $(readlink "$link") == "$state/etc/slurm.conf" ]]; then
        rm -f "$link"
    fi
    rm -f "$state/pids/linked-conf"
fi
rmdir "$state/pids" 2>/dev/null || true
log "done (logs kept in $state/log)"

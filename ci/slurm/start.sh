#!/usr/bin/env bash
# Start a private one-node SLURM cluster on this machine (for CI and for testing the
# profiles/slurm profile by hand). Needs root and ci/slurm/install.sh.
#
# Writes slurm.conf + gres.conf for THIS machine into the state directory, starts munged
# (unless one already answers), slurmctld and slurmd, records their PIDs and waits until
# the node is idle. ci/slurm/stop.sh stops exactly those PIDs.
#
# Environment (all optional):
#   CI_SLURM_STATE      state dir: configs, PIDs, logs, spool  (default /tmp/idunlearn-slurm)
#   CI_SLURM_FAKE_GPUS  number of fake GPUs (gres gpu:fake:N)    (default nproc; 0 = none)
#   CI_SLURM_TIMEOUT    seconds to wait for the node to be idle  (default 60)
set -euo pipefail

state=${CI_SLURM_STATE:-/tmp/idunlearn-slurm}
# As many fake GPUs as CPUs: GPU jobs are then limited by CPUs only, as in a local run.
fake_gpus=${CI_SLURM_FAKE_GPUS:-$(nproc)}
timeout=${CI_SLURM_TIMEOUT:-60}
marker="# written by ci/slurm/start.sh"

die() {
    echo "ci/slurm/start.sh: error: $*" >&2
    exit 1
}
log() { echo "ci/slurm/start.sh: $*"; }

((EUID == 0)) || die "must run as root (munged runs as user munge, slurmd as root)"
for cmd in slurmctld slurmd sinfo munged munge unmunge setpriv; do
    command -v "$cmd" >/dev/null || die "$cmd not found; run ci/slurm/install.sh first"
done

# Already started by us (e.g. a second call from a developer's shell): nothing to do.
if [[ -f $state/pids/slurmctld.pid ]] && kill -0 "$(cat "$state/pids/slurmctld.pid")" 2>/dev/null
then
    log "already running (state dir $state); stop it with ci/slurm/stop.sh"
    exit 0
fi
# Someone else's slurmctld would fight ours for the ports and the config.
if timeout 5 scontrol ping 2>/dev/null | grep -q UP; then
    die "a slurmctld not started by this script already answers; refusing to start another"
fi

node=$(hostname -s)
cpus=$(nproc)
mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# Keep a margin for the OS and the daemons: 10% but at least 512 MB. slurmd drains a
# node whose configured RealMemory exceeds what it measures.
margin_mb=$((mem_total_mb / 10 > 512 ? mem_total_mb / 10 : 512))
real_mem_mb=$((mem_total_mb - margin_mb))
# Snakemake's default mem_mb is 1000: a smaller node could never run a job.
((real_mem_mb >= 1000)) || die "only ${mem_total_mb} MB of memory; need at least 1512"

rm -rf "${state:?}/spool" "${state:?}/ctld" "${state:?}/pids" "${state:?}/log"
mkdir -p "$state/etc" "$state/log" "$state/spool" "$state/ctld" "$state/pids"
chmod 755 "$state"

gres_node=""
gres_types=""
if ((fake_gpus > 0)); then
    gres_types="GresTypes=gpu"
    gres_node="Gres=gpu:fake:${fake_gpus}"
fi

cat >"$state/etc/slurm.conf" <<EOF
$marker for node $node; do not edit, rerun the script instead.
ClusterName=idunlearn-ci
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# No systemd and no cgroup setup on CI runners: the simplest plugins that work.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# No slurmdbd: sacct cannot answer, so the Snakemake profile polls with squeue, which
# only sees finished jobs for MinJobAge seconds (must be >= 3 x the first-check delay).
# The SLURM test reads every job of a run from squeue after the run: two hours covers
# its longest run (RUN_TIMEOUT in tests/test_slurm.py) with room to spare.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=7200
ReturnToService=2
# Trust the CPUs/memory written here (containers may report more than nproc).
SlurmdParameters=config_overrides
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/spool/slurmctld.pid
SlurmdPidFile=$state/spool/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
$gres_types
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem_mb $gres_node State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

{
    echo "$marker"
    if ((fake_gpus > 0)); then
        # A GPU GRES needs a device File or the node drains; /dev/null stands in for it.
        # Jobs that ask for --gpus=1 then run with CUDA_VISIBLE_DEVICES=0 and no CUDA.
        if ((fake_gpus == 1)); then
            echo "NodeName=$node Name=gpu Type=fake File=/dev/null"
        else
            # One distinct stand-in per fake GPU; slurmd wants character devices, so
            # these are copies of /dev/null (char 1:3).
            rm -rf "${state:?}/dev"
            mkdir -p "$state/dev"
            for ((i = 0; i < fake_gpus; i++)); do mknod "$state/dev/fakegpu$i" c 1 3; done
            echo "NodeName=$node Name=gpu Type=fake File=$state/dev/fakegpu[0-$((fake_gpus - 1))]"
        fi
    fi
} >"$state/etc/gres.conf"

# Client commands (sinfo, sbatch, squeue; also those Snakemake runs) read
# /etc/slurm/slurm.conf unless SLURM_CONF is set: point it at ours, but never replace
# a configuration that this script did not write.
sys_conf=/etc/slurm/slurm.conf
if [[ -L $sys_conf || ! -e $sys_conf ]]; then
    mkdir -p /etc/slurm
    ln -sfn "$state/etc/slurm.conf" "$sys_conf"
    echo "$sys_conf" >"$state/pids/linked-conf"
else
    log "$sys_conf exists and is not ours: clients need SLURM_CONF=$state/etc/slurm.conf"
fi
export SLURM_CONF=$state/etc/slurm.conf

started=()
cleanup_on_error() {
    local rc=$?
    if ((rc != 0)); then
        echo "ci/slurm/start.sh: failed; node state and last lines of $state/log:" >&2
        timeout 5 sinfo -N -o '%N %T %E' >&2 2>/dev/null || true
        tail -n 20 "$state"/log/*.log >&2 2>/dev/null || true
        CI_SLURM_STATE=$state "$(dirname "$0")/stop.sh" >&2 || true
    fi
}
trap cleanup_on_error EXIT

# Start a daemon in the foreground mode of its own, in the background here, so that $!
# is the daemon's PID (nohup and setpriv exec, they do not fork).
launch() {
    local name=$1
    shift
    nohup "$@" </dev/null >>"$state/log/$name.out" 2>&1 &
    echo $! >"$state/pids/$name.pid"
    started+=("$name")
}

wait_for() {
    local what=$1
    shift
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
        sleep 0.5
    done
}

munge_works() { munge -n | unmunge; }

if munge_works 2>/dev/null; then
    log "munged already running; using it"
else
    install -d -o munge -g munge -m 755 /run/munge
    # setpriv, not runuser: runuser stays as parent and leaves a zombie behind.
    launch munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground
    wait_for munged munge_works
fi

launch slurmctld slurmctld -D -f "$SLURM_CONF"
wait_for slurmctld bash -c 'scontrol ping | grep -q UP'
launch slurmd slurmd -D -f "$SLURM_CONF" -N "$node"

node_idle() { [[ $(sinfo -h -n "$node" -o %T) == idle ]]; }
wait_for "node $node to be idle" node_idle
trap - EXIT

log "SLURM is up: node $node, $cpus CPUs, ${real_mem_mb} MB, ${fake_gpus} fake GPU(s)"
log "started: ${started[*]} (PIDs in $state/pids; stop with ci/slurm/stop.sh)"
sinfo -N -o '%N %T %c %m %G'

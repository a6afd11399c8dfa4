#!/usr/bin/env bash
# A private single-node Slurm cluster on this machine: munged, slurmctld and slurmd from Debian's
# munge and slurm-wlm packages (scripts/setup.sh installs them), configured for this host only.
# Everything lives in DIR (slurm.conf, munge key and socket, state, logs, pid files), on ports
# of its own, so it clashes with no system Slurm or munge and leaves nothing behind but DIR.
# The `slurm` tests start one to run `joulebench sweep --slurm` for real (docs/cluster.md).
#
#   scripts/slurm-local.sh start DIR   start the daemons; waits until the node takes jobs and
#                                      prints SLURM_CONF=DIR/slurm.conf (export it to use sbatch)
#   scripts/slurm-local.sh stop DIR    cancel its jobs, stop its daemons (by their pid files)
#
# Runs as root (SlurmUser=root) or as any user who can run the daemons. No network beyond
# 127.0.0.1. Environment: JB_SLURM_START_S (default 60) bounds the wait for the node.
set -euo pipefail

say() { printf 'slurm-local: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"

need() {
    for b in "$@"; do
        command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
            die "$b not found: install Debian's slurm-wlm and munge (scripts/setup.sh --deps)"
    done
}
bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

# Ends the process whose id is in a pid file we wrote, then waits for it (SIGKILL after 10 s).
stop_pid_file() {
    local f=$1 pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

start() {
    need munged slurmctld slurmd sbatch sinfo scontrol
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -e "$dir/run/slurmctld.pid" ] && die "$dir: a cluster seems to run there already (stop it first)"
    mkdir -p "$dir"/{munge,state/ctld,state/d,log,run}
    chmod 700 "$dir" "$dir/munge"

    # munge: a fresh key, a socket and pid file of our own (the system's munged is not touched).
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    "$(bin munged)" --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket.2" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
        || die "munged did not start: $(tail -3 "$dir/log/munged.log" 2>/dev/null)"

    local host cpus port user
    host=$(hostname -s)
    cpus=$(nproc)
    user=$(id -un)
    # Two ports of our own, away from Slurm's 6817/6818.
    port=$((20000 + ($$ * 7 + RANDOM) % 20000))
    cat >"$dir/slurm.conf" <<EOF
# Written by joulebench scripts/slurm-local.sh: a private single-node cluster in $dir.
ClusterName=joulebench-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state/ctld
SlurmdSpoolDir=$dir/state/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    "$(bin slurmctld)" -c -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -5 "$dir/log/slurmctld.log" 2>/dev/null)"
    "$(bin slurmd)" -N "$host" -f "$SLURM_CONF" || die "slurmd did not start: $(tail -5 "$dir/log/slurmd.log" 2>/dev/null)"

    local limit=${JB_SLURM_START_S:-60} state=""
    for _ in $(seq $((limit * 5))); do
        state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
        case "$state" in idle*|mix*|alloc*) break ;; esac
        sleep 0.2
    done
    case "$state" in
        idle*|mix*|alloc*) ;;
        *) say "node $host is '${state:-unknown}' after ${limit} s; slurmctld.log:"
           tail -5 "$dir/log/slurmctld.log" >&2 || true
           say "slurmd.log:"; tail -5 "$dir/log/slurmd.log" >&2 || true
           exit 1 ;;
    esac
    say "cluster up in $dir: node $host ($cpus CPUs), partition local, slurmctld port $port"
    echo "SLURM_CONF=$SLURM_CONF"
}

stop() {
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/slurm.conf" ] && [ -s "$dir/run/slurmctld.pid" ]; then
        export SLURM_CONF="$dir/slurm.conf"
        # Only this cluster's jobs: SLURM_CONF points the client at our slurmctld.
        scancel --quiet --full --user "$(id -un)" 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null || true)" ] && break
            sleep 0.2
        done
    fi
    stop_pid_file "$dir/run/slurmd.pid"
    stop_pid_file "$dir/run/slurmctld.pid"
    stop_pid_file "$dir/run/munged.pid"
    say "cluster in $dir stopped"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) die "unknown command '$cmd' (expected start or stop)" ;;
esac

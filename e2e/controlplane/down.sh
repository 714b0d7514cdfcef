#!/usr/bin/env bash
# Stop the control plane started by up.sh: kube-apiserver first (so it does not log a
# storm of etcd connection errors), then etcd. SIGTERM, then SIGKILL after a grace
# period. Safe to run when nothing is running, or twice.
#
# Usage: e2e/controlplane/down.sh [STATE_DIR]    (default $REPO/.cache/run/controlplane)
# Removes the state dir's kubeconfig, env and etcd-data; keeps logs and pki/.
# Env:   CONTROLPLANE_GRACE  seconds between TERM and KILL (default 5)
set -euo pipefail

MODULE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$MODULE_DIR/../.." && pwd)
STATE=${1:-$REPO/.cache/run/controlplane}
GRACE=${CONTROLPLANE_GRACE:-5}

log() { printf '[controlplane down %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ ! -d $STATE ]]; then
	log "no state dir $STATE; nothing to stop"
	exit 0
fi
STATE=$(cd "$STATE" && pwd)

# ours PID COMM: PID is alive, runs the expected program, and was started for this
# state dir (its command line names it). Guards against recycled pids and against
# stopping another state dir's control plane.
ours() {
	local pid=$1 comm=$2
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/"
}

# pids NAME COMM: the recorded pid plus, as a fallback for a lost or stale pid file
# (e.g. up.sh killed between starting a process and writing its pid), any process of
# that program whose arguments name this state dir.
pids() {
	local name=$1 comm=$2 pid
	{
		if [[ -f $STATE/$name.pid ]]; then
			pid=$(<"$STATE/$name.pid")
			[[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
		fi
		pgrep -x -- "$comm" || true
	} | sort -u | while read -r pid; do
		if ours "$pid" "$comm"; then echo "$pid"; fi
	done
}

# zombie PID COMM: PID has exited but its parent has not reaped it yet.
zombie() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $stat == "$1 ($2) Z "* ]]
}

stop() {
	local name=$1 comm=$2 deadline pid i
	local -a list signalled
	mapfile -t list < <(pids "$name" "$comm")
	signalled=("${list[@]}")
	if ((${#list[@]} == 0)); then
		log "$name not running"
	else
		log "stopping $name (pid ${list[*]})"
		kill -TERM "${list[@]}" 2>/dev/null || true
		deadline=$((SECONDS + GRACE))
		while ((SECONDS < deadline)); do
			mapfile -t list < <(pids "$name" "$comm")
			((${#list[@]} == 0)) && break
			sleep 0.2
		done
		mapfile -t list < <(pids "$name" "$comm")
		if ((${#list[@]} > 0)); then
			log "$name ignored SIGTERM for ${GRACE}s; sending SIGKILL"
			kill -KILL "${list[@]}" 2>/dev/null || true
			# SIGKILL is not instant either: wait until the kernel has reaped them.
			for pid in "${list[@]}"; do
				while [[ -e /proc/$pid ]] && ours "$pid" "$comm"; do sleep 0.1; done
			done
		fi
		# up.sh detaches the servers, so their parent is now init, which reaps them.
		# Some sandbox inits do that lazily; wait (bounded) for the zombies to go so a
		# `pgrep` straight after down.sh finds nothing. A zombie holds no port or memory.
		for pid in "${signalled[@]}"; do
			for ((i = 0; i < 50; i++)); do
				zombie "$pid" "$comm" || break
				sleep 0.2
			done
		done
	fi
	rm -f "$STATE/$name.pid"
}

stop apiserver kube-apiserver
stop etcd etcd
# etcd's data is throwaway (up.sh starts from empty) and a kubeconfig of a stopped
# server only misleads; logs and PKI stay for inspection.
rm -rf "$STATE/etcd-data"
rm -f "$STATE/env" "$STATE/kubeconfig"
log "stopped"

#!/usr/bin/env bash
# Start a real, local Kubernetes control plane: one etcd member and kube-apiserver on
# 127.0.0.1, configured the way controller-runtime's envtest runs them. No kubelet, no
# controller-manager, no scheduler (see README.md for what that implies).
#
# Usage: e2e/controlplane/up.sh [STATE_DIR]     (default $REPO/.cache/run/controlplane)
#
# Writes into STATE_DIR:
#   kubeconfig            admin (CN=admin, O=system:masters) client cert + CA data
#   env                   shell-sourceable KUBECONFIG, CONTROLPLANE_BIN, APISERVER_URL, ETCD_URL
#   etcd.log, apiserver.log, etcd.pid, apiserver.pid
#   pki/                  CA, serving cert, admin cert, service-account key pair
#   etcd-data/            etcd's data (fresh on every start)
# Stop with e2e/controlplane/down.sh [STATE_DIR].
#
# Env: CONTROLPLANE_BIN        directory with kube-apiserver, etcd, kubectl
#                              (default: the cache filled by build.sh, built if missing;
#                              CONTROLPLANE_CACHE moves it as for build.sh)
#      CONTROLPLANE_TIMEOUT    seconds to wait for /readyz (default 120)
#      APISERVER_EXTRA_ARGS    extra kube-apiserver flags, whitespace-separated
#                              (e.g. "--feature-gates=Foo=true --v=4")
set -euo pipefail

readonly K8S_VERSION=v1.36.3
MODULE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$MODULE_DIR/../.." && pwd)
readonly MODULE_DIR REPO

STATE=${1:-$REPO/.cache/run/controlplane}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd) # absolute: it ends up in flags and in the kubeconfig
readonly STATE
BIN=${CONTROLPLANE_BIN:-${CONTROLPLANE_CACHE:-$REPO/.cache/controlplane}/k8s-$K8S_VERSION/bin}
TIMEOUT=${CONTROLPLANE_TIMEOUT:-120}
PKI=$STATE/pki

log() { printf '[controlplane up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# One up.sh per state dir at a time; a concurrent second one waits, then finds the
# control plane running. (fd 9 is closed for the servers so they do not hold the lock.)
exec 9>"$STATE/.up.lock"
flock 9

# pid_of NAME COMM: the pid recorded in NAME.pid if that process is still running (not
# a zombie) and still is the expected program (a recycled pid must not count as ours).
pid_of() {
	local name=$1 comm=$2 pid stat
	[[ -f $STATE/$name.pid ]] || return 1
	pid=$(<"$STATE/$name.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $stat == "$pid ($comm) "[!Z]* ]] || return 1
	echo "$pid"
}

# Already up? Then running up.sh again is a no-op, so callers need not track state.
if pid_of etcd etcd >/dev/null && pid_of apiserver kube-apiserver >/dev/null &&
	[[ -f $STATE/kubeconfig ]] &&
	"$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
	log "already running; kubeconfig: $STATE/kubeconfig"
	echo "$STATE/kubeconfig"
	exit 0
fi
# Leftovers of an earlier, partly failed or crashed run: stop them before starting anew.
if compgen -G "$STATE/*.pid" >/dev/null; then
	log "stopping leftovers of an earlier run"
	"$MODULE_DIR/down.sh" "$STATE" || true
fi

if [[ -z ${CONTROLPLANE_BIN:-} ]]; then
	"$MODULE_DIR/build.sh" >&2
fi
for b in etcd kube-apiserver kubectl; do
	[[ -x $BIN/$b ]] || {
		log "missing $BIN/$b (run e2e/controlplane/build.sh)"
		exit 1
	}
done

# ---------------------------------------------------------------------------- ports
# Free loopback ports, chosen at random and checked with ss. There is a small window
# before the servers bind them; a collision shows up as a start failure below.
declare -A taken=()
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		[[ -n ${taken[$p]:-} ]] && continue
		if [[ -z $(ss -Htan "( sport = :$p )" 2>/dev/null) ]]; then
			taken[$p]=1
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}
ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)
ETCD_URL=http://127.0.0.1:$ETCD_PORT
APISERVER_URL=https://127.0.0.1:$API_PORT

# ---------------------------------------------------------------------------- certs
# Fresh PKI per start: cheap (about a second) and no stale cert can outlive a run.
rm -rf "$PKI"
mkdir -p "$PKI"
# openssl is chatty: its stderr goes to a log that is shown only if a step fails.
ossl() {
	openssl "$@" 2>>"$PKI/openssl.log" || {
		log "openssl $1 failed:"
		cat "$PKI/openssl.log" >&2
		exit 1
	}
}
(
	cd "$PKI"
	umask 077
	ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
		-keyout ca.key -out ca.crt -subj "/CN=baton-controlplane-ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
	# Serving cert: the names clients use locally, plus the in-cluster service names/IP
	# (10.0.0.1 is the first address of --service-cluster-ip-range) for completeness.
	ossl req -newkey rsa:2048 -nodes -sha256 -keyout apiserver.key -out apiserver.csr \
		-subj "/CN=kube-apiserver"
	cat >apiserver.ext <<-EOF
		basicConstraints=CA:FALSE
		keyUsage=critical,digitalSignature,keyEncipherment
		extendedKeyUsage=serverAuth
		subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
	EOF
	ossl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		-sha256 -days 365 -extfile apiserver.ext -out apiserver.crt
	# Admin client: O=system:masters is bound to cluster-admin and bypasses RBAC.
	ossl req -newkey rsa:2048 -nodes -sha256 -keyout admin.key -out admin.csr \
		-subj "/O=system:masters/CN=admin"
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=clientAuth" >admin.ext
	ossl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		-sha256 -days 365 -extfile admin.ext -out admin.crt
	# Service-account token signing key pair (kube-apiserver requires both flags).
	ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
	ossl pkey -in sa.key -pubout -out sa.pub
)

# ---------------------------------------------------------------------------- start
ok=false
cleanup() {
	$ok && return 0
	log "start failed; stopping what was started"
	"$MODULE_DIR/down.sh" "$STATE" >&2 || true
}
trap cleanup EXIT
# Make Ctrl-C / kill run the EXIT trap too, so an interrupted start leaves nothing behind.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fail() {
	local what=$1 logfile=$2
	log "$what"
	echo "----- last 40 lines of $logfile -----" >&2
	tail -n 40 "$logfile" >&2 || true
	exit 1
}

# alive NAME: the process started as NAME still runs. Not pid_of: right after the start its
# pid may still be the forked shell or setsid, not yet the server it execs (seen on a busy
# machine: "etcd exited during start-up" with etcd running).
alive() {
	local pid stat
	pid=$(<"$STATE/$1.pid")
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $stat == "$pid ("*") "[!Z]* ]]
}

# start NAME LOG CMD...: run CMD detached (own session, stdin closed, output to LOG) so it
# outlives this script and a caller's process-group signals; record its pid.
start() {
	local name=$1 logfile=$2
	shift 2
	setsid "$@" </dev/null >"$logfile" 2>&1 9>&- &
	echo $! >"$STATE/$name.pid"
}

# etcd: single member, loopback only, throwaway data. --unsafe-no-fsync because the data
# is disposable and fsync dominates latency on shared CI disks.
rm -rf "$STATE/etcd-data"
start etcd "$STATE/etcd.log" "$BIN/etcd" \
	--name=controlplane \
	--data-dir="$STATE/etcd-data" \
	--listen-client-urls="$ETCD_URL" \
	--advertise-client-urls="$ETCD_URL" \
	--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster="controlplane=http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster-state=new \
	--unsafe-no-fsync \
	--logger=zap

deadline=$((SECONDS + 30))
until curl -fsS "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; do
	alive etcd || fail "etcd exited during start-up" "$STATE/etcd.log"
	((SECONDS < deadline)) || fail "etcd not healthy after 30s" "$STATE/etcd.log"
	sleep 0.3
done
log "etcd healthy at $ETCD_URL (pid $(<"$STATE/etcd.pid"))"

# kube-apiserver with envtest's flag set. --advertise-address and
# --endpoint-reconciler-type=none keep it working on hosts without a default route;
# ServiceAccount admission is off because no controller-manager creates the default
# ServiceAccount it would insist on.
read -r -a extra_args <<<"${APISERVER_EXTRA_ARGS:-}"
start apiserver "$STATE/apiserver.log" "$BIN/kube-apiserver" \
	--etcd-servers="$ETCD_URL" \
	--bind-address=127.0.0.1 \
	--secure-port="$API_PORT" \
	--advertise-address=127.0.0.1 \
	--endpoint-reconciler-type=none \
	--cert-dir="$PKI" \
	--tls-cert-file="$PKI/apiserver.crt" \
	--tls-private-key-file="$PKI/apiserver.key" \
	--client-ca-file="$PKI/ca.crt" \
	--authorization-mode=RBAC \
	--service-account-issuer=https://kubernetes.default.svc \
	--service-account-key-file="$PKI/sa.pub" \
	--service-account-signing-key-file="$PKI/sa.key" \
	--service-cluster-ip-range=10.0.0.0/24 \
	--disable-admission-plugins=ServiceAccount \
	--allow-privileged=true \
	${extra_args[@]+"${extra_args[@]}"}

# ---------------------------------------------------------------------------- kubeconfig
b64() { base64 -w0 <"$1"; }
umask 077
cat >"$STATE/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: baton-controlplane
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: baton-controlplane
  context:
    cluster: baton-controlplane
    user: admin
current-context: baton-controlplane
EOF
mv "$STATE/kubeconfig.tmp" "$STATE/kubeconfig"
umask 022

deadline=$((SECONDS + TIMEOUT))
until curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
	"$APISERVER_URL/readyz" >/dev/null 2>&1; do
	alive apiserver || fail "kube-apiserver exited during start-up" "$STATE/apiserver.log"
	pid_of etcd etcd >/dev/null || fail "etcd exited while kube-apiserver was starting" "$STATE/etcd.log"
	((SECONDS < deadline)) || fail "kube-apiserver not ready after ${TIMEOUT}s" "$STATE/apiserver.log"
	sleep 0.5
done

cat >"$STATE/env" <<EOF
# Written by e2e/controlplane/up.sh; source it to talk to this control plane.
export KUBECONFIG='$STATE/kubeconfig'
export CONTROLPLANE_BIN='$BIN'
export APISERVER_URL='$APISERVER_URL'
export ETCD_URL='$ETCD_URL'
EOF

ok=true
log "kube-apiserver ready at $APISERVER_URL (pid $(<"$STATE/apiserver.pid"))"
log "kubeconfig: $STATE/kubeconfig   stop with: $MODULE_DIR/down.sh $STATE"
# stdout carries only the kubeconfig path, for scripts: KUBECONFIG=$(up.sh)
echo "$STATE/kubeconfig"

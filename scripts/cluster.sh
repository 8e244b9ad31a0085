#!/usr/bin/env bash
# The production picture on loopback, in one command: a 6-node Redis Cluster (3 masters,
# 3 replicas), RabbitMQ, 3 imagecpp instances (Release build) and haproxy in front of them with
# deploy/haproxy.cfg. Prints the URL to use; Ctrl-C or SIGTERM stops all of it.
#
#   scripts/cluster.sh [service flags...]     extra flags go to every instance (see --help of
#                                             the service)
#
# Settings (environment):
#   CLUSTER_PORT          haproxy's port (8080)
#   CLUSTER_PORT_BASE     first of the other loopback ports (17000): Redis nodes BASE..BASE+5
#                         (cluster bus: +10000), RabbitMQ BASE+10..12 (AMQP, distribution,
#                         epmd), instances BASE+21..23, haproxy stats BASE+30; all below 32768
#   CLUSTER_DIR           state and logs (build/cluster; emptied at start)
#   CLUSTER_BIN           a prebuilt service binary (default: build Release into build/release)
#   CLUSTER_STORE         cluster (default) or single: one plain redis-server on BASE+6 instead
#   CLUSTER_RABBIT        on (default) or off: no broker, no logout broadcast (the benchmark)
#   CLUSTER_NODE_TIMEOUT  Redis cluster-node-timeout in ms (5000): how long a master may be
#                         silent before its replica takes over
#   CLUSTER_READY_FILE    written (URL on the first line) once everything is up
# Auth: static tokens from ./tokens.txt (created with one random token, as scripts/run.sh does)
# unless IMAGE_AUTH_MODE is set (then the usual AUTH_SERVICE_URL and friends apply).
# Redis and RabbitMQ keep their data in CLUSTER_DIR only while running (no persistence).
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,23p' "$SELF" | sed 's/^# \{0,1\}//'
  exit 0
fi

PORT=${CLUSTER_PORT:-8080}
BASE=${CLUSTER_PORT_BASE:-17000}
DIR=${CLUSTER_DIR:-$ROOT/build/cluster}
STORE=${CLUSTER_STORE:-cluster}
RABBIT=${CLUSTER_RABBIT:-on}
NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-5000}
REDIS_PORTS=($(seq "$BASE" $((BASE + 5))))
SINGLE_REDIS_PORT=$((BASE + 6))
RABBIT_PORT=$((BASE + 10)) RABBIT_DIST_PORT=$((BASE + 11)) EPMD_PORT=$((BASE + 12))
INSTANCE_PORTS=($((BASE + 21)) $((BASE + 22)) $((BASE + 23)))
STATS_PORT=$((BASE + 30))

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

case $STORE in cluster | single) ;; *) die "CLUSTER_STORE must be cluster or single" ;; esac
case $RABBIT in on | off) ;; *) die "CLUSTER_RABBIT must be on or off" ;; esac

# ---------------------------------------------------------------- build
./scripts/deps.sh redis-server redis-tools haproxy curl python3 \
  $([[ $RABBIT == on ]] && echo rabbitmq-server)
BIN=${CLUSTER_BIN:-}
if [[ -z $BIN ]]; then
  log "building Release into build/release"
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF >/dev/null
  cmake --build build/release -j "$(nproc)" --target imagecpp
  BIN=$ROOT/build/release/imagecpp
fi
[[ -x $BIN ]] || die "no service binary at $BIN"

# ---------------------------------------------------------------- ports
ports=("$PORT" "$STATS_PORT" "${INSTANCE_PORTS[@]}")
if [[ $STORE == cluster ]]; then
  for p in "${REDIS_PORTS[@]}"; do ports+=("$p" $((p + 10000))); done
else
  ports+=("$SINGLE_REDIS_PORT")
fi
if [[ $RABBIT == on ]]; then ports+=("$RABBIT_PORT" "$RABBIT_DIST_PORT" "$EPMD_PORT"); fi
busy=$(python3 - "${ports[@]}" <<'EOF'
import socket, sys
for p in sys.argv[1:]:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", int(p)))
        except OSError:
            print(p)
EOF
)
[[ -z $busy ]] || die "loopback ports in use: $(echo $busy) (set CLUSTER_PORT / CLUSTER_PORT_BASE)"

# ---------------------------------------------------------------- processes
# Each child runs in its own session (setsid): the terminal's Ctrl-C reaches this script only,
# which then stops the parts in order (haproxy, instances draining, broker, Redis) and last
# kills whatever is left in each child's process group: nothing outlives the script.
rm -rf "$DIR"
mkdir -p "$DIR/logs"
PIDS=()
declare -A NAME=()
spawn() {  # name command...
  local name=$1
  shift
  setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
  PIDS+=($!)
  NAME[$!]=$name
}

RABBIT_VARS=(HOME="$DIR/rabbit" RABBITMQ_NODENAME=imagecpp@localhost
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT"
  RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT"
  RABBITMQ_MNESIA_BASE="$DIR/rabbit/mnesia" RABBITMQ_LOG_BASE="$DIR/rabbit/log"
  RABBITMQ_PID_FILE="$DIR/rabbit/rabbit.pid" RABBITMQ_CONFIG_FILE="$DIR/rabbit/rabbitmq.conf"
  RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/rabbit/enabled_plugins"
  RABBITMQ_CONF_ENV_FILE="$DIR/rabbit/rabbitmq-env.conf"
  # Else Erlang's distribution port binds every interface, not loopback only.
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
rabbitmqctl() { env "${RABBIT_VARS[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n imagecpp@localhost "$@"; }

STOPPING=0
stop_all() {
  ((STOPPING)) && return
  STOPPING=1
  trap '' INT TERM
  log "stopping"
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do  # in reverse start order
    pid=${PIDS[i]}
    kill -0 "$pid" 2>/dev/null || continue
    if [[ ${NAME[$pid]} == rabbitmq ]]; then
      rabbitmqctl stop >/dev/null 2>&1 ||
        kill -TERM "$pid" 2>/dev/null || true
    else
      kill -TERM "$pid" 2>/dev/null || true
    fi
    # An instance drains its requests first (IMAGE_SHUTDOWN_TIMEOUT, 20 s by default).
    for _ in $(seq 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  for pid in "${PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true  # its process group: any helper it started
    wait "$pid" 2>/dev/null || true
  done
  # epmd outlives the node, and daemonizes out of its process group.
  if [[ $RABBIT == on ]]; then env "${RABBIT_VARS[@]}" epmd -kill >/dev/null 2>&1 || true; fi
  rm -f "${CLUSTER_READY_FILE:-/nonexistent}"
  log "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {  # description seconds command...
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within $seconds s (logs: $DIR/logs)"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- Redis
redis_node() {  # port [extra flags]
  local port=$1
  shift
  mkdir -p "$DIR/redis/$port"
  spawn "redis-$port" redis-server --port "$port" --bind 127.0.0.1 --dir "$DIR/redis/$port" \
    --save '' --appendonly no --daemonize no "$@"
}
if [[ $STORE == cluster ]]; then
  log "starting a Redis Cluster on ${REDIS_PORTS[0]}-${REDIS_PORTS[5]}"
  for port in "${REDIS_PORTS[@]}"; do
    # A replica syncs at once (no diskless delay): one that never synced is never promoted.
    redis_node "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "$NODE_TIMEOUT" --repl-diskless-sync-delay 0
  done
else
  log "starting one Redis on $SINGLE_REDIS_PORT"
  redis_node "$SINGLE_REDIS_PORT"
fi

# ---------------------------------------------------------------- RabbitMQ (boots meanwhile)
if [[ $RABBIT == on ]]; then
  log "starting RabbitMQ on $RABBIT_PORT"
  mkdir -p "$DIR/rabbit"
  echo "loopback_users.guest = true" >"$DIR/rabbit/rabbitmq.conf"
  echo "[]." >"$DIR/rabbit/enabled_plugins"
  : >"$DIR/rabbit/rabbitmq-env.conf"
  spawn rabbitmq env "${RABBIT_VARS[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
fi

if [[ $STORE == cluster ]]; then
  for port in "${REDIS_PORTS[@]}"; do wait_for "redis $port" 20 redis-cli -p "$port" ping; done
  nodes=()
  for port in "${REDIS_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    >"$DIR/logs/cluster-create.log" 2>&1 || die "redis-cli --cluster create failed: $DIR/logs/cluster-create.log"
  cluster_ok() {
    local port
    for port in "${REDIS_PORTS[@]}"; do
      redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' || return 1
      if redis-cli -p "$port" info replication | grep -q '^role:slave'; then
        redis-cli -p "$port" info replication | grep -q '^master_link_status:up' || return 1
      fi
    done
  }
  wait_for "the Redis Cluster" 60 cluster_ok
  REDIS_URL="redis+cluster://127.0.0.1:${REDIS_PORTS[0]},127.0.0.1:${REDIS_PORTS[1]},127.0.0.1:${REDIS_PORTS[2]}"
  STORE_TEXT="Redis Cluster, seeds 127.0.0.1:${REDIS_PORTS[0]}-${REDIS_PORTS[2]} (redis-cli -c -p ${REDIS_PORTS[0]})"
else
  wait_for "redis $SINGLE_REDIS_PORT" 20 redis-cli -p "$SINGLE_REDIS_PORT" ping
  REDIS_URL="127.0.0.1:$SINGLE_REDIS_PORT"
  STORE_TEXT="one Redis, 127.0.0.1:$SINGLE_REDIS_PORT"
fi

RABBIT_URL=""
if [[ $RABBIT == on ]]; then
  rabbit_ready() {
    (echo >"/dev/tcp/127.0.0.1/$RABBIT_PORT") 2>/dev/null &&
      rabbitmqctl await_startup --timeout 30
  }
  wait_for "RabbitMQ" 120 rabbit_ready
  RABBIT_URL="amqp://guest:guest@127.0.0.1:$RABBIT_PORT/"
fi

# ---------------------------------------------------------------- instances
auth=()
TOKEN_TEXT="(remote auth: ${AUTH_SERVICE_URL:-http://localhost:3000})"
if [[ -z ${IMAGE_AUTH_MODE:-} ]]; then
  tokens=${IMAGE_TOKENS_FILE:-$ROOT/tokens.txt}
  if [[ ! -s $tokens ]]; then
    (umask 077 && printf '%s demo-user Demo User\n' \
      "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tokens")
    log "created $tokens with a random token for user demo-user"
  fi
  auth=(--auth-mode static --tokens-file "$tokens")
  TOKEN_TEXT="$(awk '{print $1; exit}' "$tokens") (from $tokens)"
fi
for n in 1 2 3; do
  port=${INSTANCE_PORTS[n - 1]}
  log "starting instance $n on $port"
  spawn "imagecpp-$n" "$BIN" --bind 127.0.0.1 --port "$port" --redis-url "$REDIS_URL" \
    --rabbit-url "$RABBIT_URL" --data-dir "$DIR/data-$n" "${auth[@]}" "$@"
done
for port in "${INSTANCE_PORTS[@]}"; do
  wait_for "the instance on $port" 60 curl -sf "http://127.0.0.1:$port/readyz"
done

# ---------------------------------------------------------------- haproxy
log "starting haproxy on $PORT"
spawn haproxy env IMAGECPP_BIND="127.0.0.1:$PORT" IMAGECPP_STATS_BIND="127.0.0.1:$STATS_PORT" \
  IMAGECPP_SERVER_1="127.0.0.1:${INSTANCE_PORTS[0]}" IMAGECPP_SERVER_2="127.0.0.1:${INSTANCE_PORTS[1]}" \
  IMAGECPP_SERVER_3="127.0.0.1:${INSTANCE_PORTS[2]}" IMAGECPP_HAPROXY_LOG=stdout \
  IMAGECPP_HAPROXY_SOCKET="$DIR/haproxy.sock" IMAGECPP_CHECK_INTER="${IMAGECPP_CHECK_INTER:-2s}" \
  haproxy -db -f "$ROOT/deploy/haproxy.cfg"
all_up() {  # every instance UP in haproxy's own view
  [[ $(curl -sf "http://127.0.0.1:$STATS_PORT/stats;csv" |
    awk -F, '$1 == "reads" && $2 ~ /^img[0-9]+$/ && $18 == "UP"' | wc -l) == 3 ]]
}
wait_for "haproxy" 60 all_up

URL="http://127.0.0.1:$PORT"
cat <<EOF

  imagecpp behind haproxy: $URL
  token       $TOKEN_TEXT
  store       $STORE_TEXT
  broker      ${RABBIT_URL:-none}
  instances   http://127.0.0.1:${INSTANCE_PORTS[0]} http://127.0.0.1:${INSTANCE_PORTS[1]} http://127.0.0.1:${INSTANCE_PORTS[2]}
  haproxy     http://127.0.0.1:$STATS_PORT/stats (Prometheus: /metrics)
  logs        $DIR/logs

  Ctrl-C stops everything.

EOF
if [[ -n ${CLUSTER_READY_FILE:-} ]]; then
  printf '%s\n' "$URL" "${PIDS[@]}" >"$CLUSTER_READY_FILE"
fi

# Until a signal, or until a part dies on its own (then everything stops, with its name).
while true; do
  wait -n || true
  ((STOPPING)) && exit 0
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      die "${NAME[$pid]} exited (log: $DIR/logs/${NAME[$pid]}.log)"
    fi
  done
done

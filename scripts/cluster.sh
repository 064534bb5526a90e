#!/usr/bin/env bash
# The scale-out topology on one machine, on loopback ports, in one directory:
#   PostgreSQL 15 primary + a streaming replica (pg_basebackup), Redis 7, N shopd
#   replicas over them, and nginx in front (least_conn, keep-alive upstreams).
#
#   scripts/cluster.sh up [--replicas N]   start everything, print the URL (default N = 2)
#   scripts/cluster.sh status              what runs, and whether each part answers
#   scripts/cluster.sh down                stop exactly what `up` started, by PID
#
# The directory is $SHOPD_CLUSTER_DIR (default ${TMPDIR:-/tmp}/shopd-cluster); it holds the
# data, the logs and `state`, the PIDs and ports `down` and `status` read. SHOPD_* variables
# of the caller (e.g. SHOPD_ADMIN_EMAIL / SHOPD_ADMIN_PASSWORD) reach every shopd; a
# SHOPD_JWT_SECRET of the caller is used, else one is made for the cluster. The shopd
# binary is $SHOPD_BIN (default build/shopd: `make build` first).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${SHOPD_CLUSTER_DIR:-${TMPDIR:-/tmp}/shopd-cluster}"
STATE="$DIR/state"
SHOPD_BIN="${SHOPD_BIN:-$ROOT/build/shopd}"
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=shopd

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: its commands run as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Running, and not a zombie nobody reaped yet (a replica killed with -9 whose parent is gone).
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

wait_http() {  # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

record() { echo "$1=$2" >> "$STATE"; }

pg_start() {  # DATA PORT LOG
  as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$3" -w -t 60 \
    -o "-p $2 -c listen_addresses=127.0.0.1 -c unix_socket_directories='$DIR'" start > /dev/null
}

up() {
  local replicas=2
  while [ $# -gt 0 ]; do
    case "$1" in
      --replicas) replicas="${2:?--replicas needs a number}"; shift 2 ;;
      *) die "unknown option $1 (usage: cluster.sh up [--replicas N])" ;;
    esac
  done
  [[ "$replicas" =~ ^[1-9][0-9]?$ ]] || die "--replicas must be 1..99, got '$replicas'"
  [ -x "$SHOPD_BIN" ] || die "no shopd binary at $SHOPD_BIN: run \`make build\` (or set SHOPD_BIN)"
  for tool in "$PG_BIN/initdb" "$PG_BIN/pg_basebackup" redis-server nginx curl python3; do
    command -v "$tool" > /dev/null || die "$tool is missing: run scripts/install_deps.sh test"
  done
  if [ -f "$STATE" ]; then
    die "$DIR already holds a cluster (state file $STATE): run \`cluster.sh down\` first"
  fi
  mkdir -p "$DIR"
  chmod 0755 "$DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$DIR"
    runuser -u postgres -- test -w "$DIR" ||
      die "the postgres user cannot reach $DIR (a parent directory is closed to others): choose another SHOPD_CLUSTER_DIR"
  fi
  : > "$STATE"
  # Whatever fails from here on (a command, or a die), what was started is stopped again.
  trap 'say "start-up failed; stopping what was started (logs in $DIR)"; down --keep-logs' EXIT

  local pg_port replica_port redis_port lb_port
  pg_port=$(free_port); replica_port=$(free_port); redis_port=$(free_port); lb_port=$(free_port)

  say "PostgreSQL primary on 127.0.0.1:$pg_port"
  as_pg "$PG_BIN/initdb" -D "$DIR/pg-primary" -U "$PG_USER" --auth=trust -E UTF8 --locale=C > "$DIR/initdb.log"
  cat >> "$DIR/pg-primary/postgresql.conf" <<EOF
wal_level = replica
max_wal_senders = 4
hot_standby = on
max_connections = 300
EOF
  echo "host replication $PG_USER 127.0.0.1/32 trust" >> "$DIR/pg-primary/pg_hba.conf"
  pg_start "$DIR/pg-primary" "$pg_port" "$DIR/pg-primary.log"
  record pg_primary_pid "$(head -1 "$DIR/pg-primary/postmaster.pid")"
  record pg_primary_port "$pg_port"
  record pg_primary_data "$DIR/pg-primary"

  say "PostgreSQL streaming replica on 127.0.0.1:$replica_port"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U "$PG_USER" -D "$DIR/pg-replica" -R -X stream \
    > "$DIR/basebackup.log" 2>&1
  pg_start "$DIR/pg-replica" "$replica_port" "$DIR/pg-replica.log"
  record pg_replica_pid "$(head -1 "$DIR/pg-replica/postmaster.pid")"
  record pg_replica_port "$replica_port"
  record pg_replica_data "$DIR/pg-replica"

  local db_url="postgres://$PG_USER@127.0.0.1:$pg_port/shop"
  local replica_url="postgres://$PG_USER@127.0.0.1:$replica_port/shop"
  psql -X -q -d "postgres://$PG_USER@127.0.0.1:$pg_port/postgres" -c "CREATE DATABASE shop"
  "$SHOPD_BIN" migrate --database-url "$db_url" >&2

  say "Redis on 127.0.0.1:$redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  local i
  for ((i = 0; i < 50; i++)); do [ -s "$DIR/redis.pid" ] && break; sleep 0.1; done
  record redis_pid "$(cat "$DIR/redis.pid")"
  record redis_port "$redis_port"

  if [ -z "${SHOPD_JWT_SECRET:-}" ]; then
    umask 077
    echo "base64:$(head -c 32 /dev/urandom | base64 -w0)" > "$DIR/jwt_secret"
    umask 022
    SHOPD_JWT_SECRET="$(cat "$DIR/jwt_secret")"
  fi
  export SHOPD_JWT_SECRET
  export SHOPD_REDIS_URL="redis://127.0.0.1:$redis_port/0"

  local upstreams="" port
  for ((i = 1; i <= replicas; i++)); do
    port=$(free_port)
    mkdir -p "$DIR/replica-$i"
    chmod 0700 "$DIR/replica-$i"
    nohup "$SHOPD_BIN" serve --listen "127.0.0.1:$port" --data-dir "$DIR/replica-$i" \
      --database-url "$db_url" --database-replica-url "$replica_url" \
      > "$DIR/replica-$i.log" 2>&1 < /dev/null &
    record "replica_${i}_pid" "$!"
    record "replica_${i}_port" "$port"
    upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"$'\n'
  done
  for ((i = 1; i <= replicas; i++)); do
    port=$(grep "^replica_${i}_port=" "$STATE" | cut -d= -f2)
    wait_http "http://127.0.0.1:$port/health" 30 || die "replica $i did not answer /health: see $DIR/replica-$i.log"
  done

  say "nginx (least_conn over $replicas replicas) on 127.0.0.1:$lb_port"
  mkdir -p "$DIR/nginx"
  cat > "$DIR/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/client_body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    upstream shopd {
        least_conn;
$upstreams        keepalive 32;
    }
    server {
        listen 127.0.0.1:$lb_port;
        location / {
            proxy_pass http://shopd;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
            # A replica that is down or restarting: the request goes to the next one.
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 1s;
        }
    }
}
EOF
  nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/error.log"
  for ((i = 0; i < 50; i++)); do [ -s "$DIR/nginx/nginx.pid" ] && break; sleep 0.1; done
  record nginx_pid "$(cat "$DIR/nginx/nginx.pid")"
  record nginx_port "$lb_port"
  wait_http "http://127.0.0.1:$lb_port/health" 10 || die "nginx did not answer: see $DIR/nginx/error.log"
  trap - EXIT
  say "up: $replicas replicas; state in $STATE"
  echo "http://127.0.0.1:$lb_port"
}

# The value of KEY in the state file, or "" (never a failure: a missing key is an answer).
value() { { grep "^$1=" "$STATE" 2>/dev/null || true; } | tail -1 | cut -d= -f2; }

stop_pid() {  # PID NAME
  local pid="$1" i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do alive "$pid" || return 0; sleep 0.1; done
  say "$2 (pid $pid) did not stop in 15 s: killed"
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  [ -f "$STATE" ] || { say "no cluster in $DIR"; return 0; }
  local keep_logs=0
  [ "${1:-}" = "--keep-logs" ] && keep_logs=1
  stop_pid "$(value nginx_pid)" nginx
  local i
  for ((i = 1; i <= 99; i++)); do
    [ -n "$(value "replica_${i}_pid")" ] || break
    stop_pid "$(value "replica_${i}_pid")" "replica $i"
  done
  stop_pid "$(value redis_pid)" redis
  for role in replica primary; do
    local data pid
    data="$(value "pg_${role}_data")"
    pid="$(value "pg_${role}_pid")"
    if [ -n "$data" ] && alive "$pid"; then
      as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop > /dev/null 2>&1 || stop_pid "$pid" "postgres $role"
    fi
  done
  if [ "$keep_logs" = 1 ]; then
    rm -f "$STATE"
  else
    rm -rf "$DIR"
  fi
  say "down"
}

status() {
  [ -f "$STATE" ] || { echo "no cluster in $DIR"; return 1; }
  local bad=0 i pid port
  line() {  # NAME PID [URL]
    local state="stopped"
    if alive "$2"; then
      state="running"
      if [ -n "${3:-}" ] && ! curl -fsS -o /dev/null --max-time 2 "$3"; then state="running, not answering"; fi
    fi
    [ "$state" = running ] || bad=1
    printf '%-18s pid %-8s %s%s\n' "$1" "$2" "$state" "${3:+  ($3)}"
  }
  line "postgres primary" "$(value pg_primary_pid)"
  line "postgres replica" "$(value pg_replica_pid)"
  line "redis" "$(value redis_pid)"
  for ((i = 1; i <= 99; i++)); do
    pid="$(value "replica_${i}_pid")"
    [ -n "$pid" ] || break
    line "shopd replica $i" "$pid" "http://127.0.0.1:$(value "replica_${i}_port")/ready"
  done
  line "nginx" "$(value nginx_pid)" "http://127.0.0.1:$(value nginx_port)/health"
  return $bad
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  status) status ;;
  *) echo "usage: $0 up [--replicas N] | status | down" >&2; exit 2 ;;
esac

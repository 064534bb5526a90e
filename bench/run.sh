#!/usr/bin/env bash
# bench/run.sh - shopd against nginx (`return 200`), Express (hello.js), the
# Express + Redis cache peer (cache.js) and the BullMQ queue peer (queue.js +
# worker.js + redis-server) on loopback, with the peers' protocol
# (/work/shared/peers/bench.sh):
#   server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1 (taskset -c 1),
#   one warm-up run (WARMUP), then RUNS runs of
#   wrk -t1 -c$CONNS -d$DURATION --latency; median of each metric.
# While wrk runs, /proc/stat gives cpu0/cpu1 busy %, and
#   server CPU time per request = cpu0 busy share x interval / requests
# (the client cannot hide that figure: it says how much of a core the server
# side used per answered request, whether or not wrk was the bottleneck).
#
# Orders cases (issue 3): ORDERS POSTs with wrk + a Lua script that stops after
# ORDERS responses (after a WARMUP_ORDERS warm-up), then the time from wrk's
# start until every accepted order / job is final, polled every 20 ms
# (shopd: /metrics shopd_orders_placed_total vs shopd_orders_finished_total;
# BullMQ: bull:orders:id vs ZCARD completed + failed, as peers/bench.sh does);
# end-to-end rate = accepted / end-to-end seconds.
#
# Prints a markdown report on stdout (progress on stderr) and saves it, with
# the raw wrk output and server logs, under bench/out/<timestamp>/ (git-ignored).
# See bench/README.md.
#
# Knobs (env):
#   RUNS=3 DURATION=10s WARMUP=3s CONNS=64
#   CASES="nginx express shopd-health shopd-me shopd-product express-cache orders bullmq"
#         (also, not in the default: auth-flood register-spike, run by bench/auth_load.py)
#   FLOOD_RATE=400 REGISTER_RATE=100   logins/s of auth-flood, registrations/s of register-spike
#   PORT=18400          base port: nginx PORT, express PORT+1, shopd PORT+2,
#                       cache.js PORT+3, queue.js PORT+4, redis-server PORT+5
#   ORDERS=20000 WARMUP_ORDERS=5000   orders per measured / warm-up run
#   SHOPD_WORKERS=128   shopd --workers (saga jobs in flight; the product default)
#   WORKER_CONCURRENCY=1  BullMQ worker.js concurrency (peers' default)
#   ORDERS_CAP=300      wrk -d cap (s) of one orders run
#   DRAIN_TIMEOUT=120   s to wait after wrk for every accepted order to be final
#   SHOPD_ORDER_LIMITS="--orders-per-minute 60000 --order-burst 1000000000 --max-pending-orders-per-user 1000000000"
#                       shopd's per-user order limits for the run: every order of
#                       the orders case comes from one load-test user (defaults:
#                       10/min, burst 20, 20 pending), so the bench lifts them; the
#                       limiter and the pending count still run on every order
#   ACCESS_LOG=true     shopd --access-log (product default: on); the log goes
#                       to a file under the run's temp dir (O_APPEND, truncated
#                       between runs), like a log file or collector would take it
#   ORDER=interleaved   all servers up at once, runs alternate between cases
#                       (A B C D A B C D ...): first the HTTP cases, then the
#                       orders cases with only their servers up; "sequential"
#                       = one server at a time, its warm-up and runs, as
#                       peers/bench.sh does
#   SHOPD_PEERS=<repo>/../shared/peers     read-only peers folder (copied)
#   PEERS_CACHE=bench/out/peers-cache      writable copy with node_modules,
#                       reused while the peers' files are unchanged
#   SHOPD_JWT_SECRET    fixed default below, so tokens do not depend on the data dir
#   SKIP_DEPS=1         do not run scripts/install_deps.sh bench
#   SKIP_BUILD=1        do not (re)build build-release/ (the binary must exist)
#   SHOPD_BIN=path      benchmark this binary instead of build-release/shopd
#                       (implies SKIP_BUILD=1)
#   BUILD_TIMEOUT=3600 NPM_TIMEOUT=900   seconds
set -euo pipefail
set +m   # no job control: a background child is not a group leader, so setsid does not fork and $! is the server

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO"

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-64}
CASES=${CASES:-"nginx express shopd-health shopd-me shopd-product express-cache orders bullmq"}
PORT=${PORT:-18400}
ORDERS=${ORDERS:-20000}
WARMUP_ORDERS=${WARMUP_ORDERS:-5000}
SHOPD_WORKERS=${SHOPD_WORKERS:-128}
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-1}
ORDERS_CAP=${ORDERS_CAP:-300}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
ACCESS_LOG=${ACCESS_LOG:-true}
SHOPD_ORDER_LIMITS=${SHOPD_ORDER_LIMITS:-"--orders-per-minute 60000 --order-burst 1000000000 --max-pending-orders-per-user 1000000000"}
ORDER=${ORDER:-interleaved}
PEERS_SRC=${SHOPD_PEERS:-$REPO/../shared/peers}
PEERS_SRC=$(cd "$PEERS_SRC" 2>/dev/null && pwd || echo "$PEERS_SRC")
PEERS_CACHE=${PEERS_CACHE:-$BENCH_DIR/out/peers-cache}
SKIP_DEPS=${SKIP_DEPS:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
SHOPD_BIN=${SHOPD_BIN:-}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-3600}
FLOOD_RATE=${FLOOD_RATE:-400}
REGISTER_RATE=${REGISTER_RATE:-100}
NPM_TIMEOUT=${NPM_TIMEOUT:-900}
export SHOPD_JWT_SECRET=${SHOPD_JWT_SECRET:-shopd-bench-fixed-jwt-secret-not-for-production-0123456789}

NGINX_PORT=$PORT
EXPRESS_PORT=$((PORT + 1))
SHOPD_PORT=$((PORT + 2))
CACHE_PORT=$((PORT + 3))
QUEUE_PORT=$((PORT + 4))
REDIS_PORT=$((PORT + 5))
BENCH_EMAIL=bench@example.com
BENCH_PASSWORD=bench-password-123
ADMIN_EMAIL=bench-admin@example.com
ADMIN_PASSWORD=bench-admin-password-123
PRODUCT_STOCK=1000000000   # the catalog's maximum: orders never run out of stock
SRV_PIN=(taskset -c 0)
WRK_PIN=(taskset -c 1)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "bench/run.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- knob checks
secs() { # wrk duration (10, 10s, 2m, 1h) -> whole seconds
  local v=$1
  case $v in
    *[0-9]s) echo "${v%s}" ;;
    *[0-9]m) echo $(( ${v%m} * 60 )) ;;
    *[0-9]h) echo $(( ${v%h} * 3600 )) ;;
    *) echo "$v" ;;
  esac
}
for kv in "DURATION=$DURATION" "WARMUP=$WARMUP"; do
  [[ ${kv#*=} =~ ^[0-9]+[smh]?$ ]] || die "${kv%%=*} must look like 10s, 2m or 10 (got '${kv#*=}')"
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer"
for kv in "ORDERS=$ORDERS" "WARMUP_ORDERS=$WARMUP_ORDERS" "SHOPD_WORKERS=$SHOPD_WORKERS" \
          "WORKER_CONCURRENCY=$WORKER_CONCURRENCY" "ORDERS_CAP=$ORDERS_CAP" "DRAIN_TIMEOUT=$DRAIN_TIMEOUT"; do
  [[ ${kv#*=} =~ ^[1-9][0-9]*$ ]] || die "${kv%%=*} must be a positive integer (got '${kv#*=}')"
done
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65000 ] || die "PORT must be 1024..65000"
case $ACCESS_LOG in true|false) ;; *) die "ACCESS_LOG must be true or false" ;; esac
case $ORDER in interleaved|sequential) ;; *) die "ORDER must be interleaved or sequential" ;; esac
HTTP_CASES_ALL="nginx express shopd-health shopd-me shopd-product express-cache"
QUEUE_CASES_ALL="orders bullmq"
AUTH_CASES_ALL="auth-flood register-spike"
HTTP_CASES=""; QUEUE_CASES=""; AUTH_CASES=""
for c in $CASES; do
  if [[ " $HTTP_CASES_ALL " == *" $c "* ]]; then HTTP_CASES="$HTTP_CASES${HTTP_CASES:+ }$c"
  elif [[ " $QUEUE_CASES_ALL " == *" $c "* ]]; then QUEUE_CASES="$QUEUE_CASES${QUEUE_CASES:+ }$c"
  elif [[ " $AUTH_CASES_ALL " == *" $c "* ]]; then AUTH_CASES="$AUTH_CASES${AUTH_CASES:+ }$c"
  else die "unknown case '$c' ($HTTP_CASES_ALL $QUEUE_CASES_ALL $AUTH_CASES_ALL)"; fi
done
for kv in "FLOOD_RATE=$FLOOD_RATE" "REGISTER_RATE=$REGISTER_RATE"; do
  [[ ${kv#*=} =~ ^[1-9][0-9]*$ ]] || die "${kv%%=*} must be a positive integer (got '${kv#*=}')"
done
[ -n "${CASES// /}" ] || die "CASES is empty"
NPROC=$(nproc)   # before this script pins itself to CPU 1 (nproc follows the affinity)
[ "$NPROC" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, wrk on CPU 1); nproc = $NPROC"
[ -n "$SHOPD_BIN" ] && SKIP_BUILD=1
has_case() { [[ " $CASES " == *" $1 "* ]]; }
is_queue_case() { [[ " $QUEUE_CASES_ALL " == *" $1 "* ]]; }
is_auth_case() { [[ " $AUTH_CASES_ALL " == *" $1 "* ]]; }
needs_shopd() { has_case shopd-health || has_case shopd-me || has_case shopd-product || has_case orders || [ -n "$AUTH_CASES" ]; }
needs_product() { has_case shopd-product || has_case orders || [ -n "$AUTH_CASES" ]; }
needs_node() { has_case express || has_case express-cache || has_case bullmq; }
needs_redis() { has_case express-cache || has_case bullmq; }
needs_peers() { has_case nginx || needs_node; }

# ---------------------------------------------------------------- processes
# Every process is started with setsid, so its PID is also its process-group
# id; stopping kills exactly that group (TERM, then KILL after 5 s). Whatever
# is still listed on exit or interrupt is stopped the same way.
STARTED=()
WORK=""
forget() { # pid
  local keep=() p
  for p in "${STARTED[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
  STARTED=("${keep[@]+"${keep[@]}"}")
}
stop_group() { # pid
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
cleanup() {
  local rc=$? p
  # ignore further signals (a second Ctrl-C, timeout's signal to the whole
  # group) so the servers are always stopped; each stop takes at most ~5 s
  trap '' INT TERM HUP
  trap - EXIT
  for p in "${STARTED[@]+"${STARTED[@]}"}"; do stop_group "$p"; done
  [ -n "$WORK" ] && rm -rf "$WORK"
  [ -n "${OUT:-}" ] && [ -d "$OUT" ] && log "raw output: $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

start_bg() { # logfile cmd...   (long-running server; sets LAST_PID)
  local logf=$1; shift
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  STARTED+=("$LAST_PID")
}
run_bounded() { # seconds logfile cmd...   (foreground job, own group, time-bounded)
  local t=$1 logf=$2 pid rc=0; shift 2
  setsid timeout -k 10 "$t" "$@" >"$logf" 2>&1 </dev/null &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_http() { # url pid logfile [timeout_s]
  local url=$1 pid=$2 logf=$3 t=${4:-30} i
  for i in $(seq $((t * 10))); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$logf" >&2; die "server for $url exited during start-up"; }
    curl -sf --max-time 1 -o /dev/null "$url" && return 0
    sleep 0.1
  done
  tail -20 "$logf" >&2
  die "server at $url did not come up in ${t}s"
}
wait_log() { # file pattern pid [timeout_s]   (a start-up line, e.g. BullMQ worker "ready")
  local f=$1 pat=$2 pid=$3 t=${4:-30} i
  for i in $(seq $((t * 10))); do
    grep -q "$pat" "$f" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$f" >&2; die "$f: process exited during start-up"; }
    sleep 0.1
  done
  tail -20 "$f" >&2
  die "$f: no '$pat' after ${t}s"
}

# ---------------------------------------------------------------- 1. deps, peers, build
OUT_BASE=$BENCH_DIR/out
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$OUT_BASE/$STAMP
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shopd-bench.XXXXXX")
log "raw output: $OUT (scratch: $WORK)"

if [ "$SKIP_DEPS" != 1 ]; then
  log "installing packages if missing (scripts/install_deps.sh bench)"
  bash scripts/install_deps.sh bench >&2
fi
# Only the tools the chosen cases use (the auth cases need neither nginx nor node).
for tool in wrk curl taskset setsid timeout pgrep sha256sum; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if has_case nginx; then command -v nginx >/dev/null || die "missing tool: nginx"; fi
if needs_node; then
  for tool in node npm; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
fi
if needs_redis; then
  for tool in redis-server redis-cli; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
fi
NGINX_BIN=$(command -v nginx || true)

if needs_peers; then
  for f in node/hello.js node/cache.js node/queue.js node/worker.js nginx/nginx.conf.in wrk/post_order.lua; do
    [ -f "$PEERS_SRC/$f" ] || die "peers not found at $PEERS_SRC (no $f; set SHOPD_PEERS)"
  done
fi
peers_fingerprint() {
  (cd "$PEERS_SRC" && find . \( -name node_modules -o -name tmp \) -prune -o -type f -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | awk '{print $1}'
}
if needs_peers; then
  fp=$(peers_fingerprint)
  if [ -f "$PEERS_CACHE/.fingerprint" ] && [ "$(cat "$PEERS_CACHE/.fingerprint")" = "$fp" ] &&
     [ -f "$PEERS_CACHE/node/node_modules/express/package.json" ]; then
    log "peers: reusing $PEERS_CACHE (npm ci already done for this copy)"
  else
    log "peers: copying $PEERS_SRC to $PEERS_CACHE and running npm ci"
    rm -rf "$PEERS_CACHE"
    mkdir -p "$(dirname "$PEERS_CACHE")"
    cp -R "$PEERS_SRC" "$PEERS_CACHE"
    chmod -R u+w "$PEERS_CACHE"
    rm -rf "$PEERS_CACHE/node/node_modules" "$PEERS_CACHE/tmp"
    if needs_node; then
      run_bounded "$NPM_TIMEOUT" "$OUT/npm-ci.log" \
        bash -c 'cd "$1" && npm ci --no-audit --no-fund' npm-ci "$PEERS_CACHE/node" ||
        { tail -30 "$OUT/npm-ci.log" >&2; die "npm ci failed (log: $OUT/npm-ci.log)"; }
      echo "$fp" > "$PEERS_CACHE/.fingerprint"
    fi
  fi
fi

if needs_shopd; then
  if [ "$SKIP_BUILD" != 1 ]; then
    log "building Release shopd in build-release/"
    run_bounded "$BUILD_TIMEOUT" "$OUT/build.log" bash -c \
      'cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-release --target shopd' ||
      { tail -40 "$OUT/build.log" >&2; die "build failed (log: $OUT/build.log)"; }
  fi
  SHOPD=${SHOPD_BIN:-$REPO/build-release/shopd}
  [ -x "$SHOPD" ] || die "no shopd binary at $SHOPD"
fi

# From here on this script (and what it runs without its own taskset: curl,
# redis-cli and awk while polling, sleep) stays on CPU 1 with wrk, so CPU 0
# runs only the servers. Servers are started with `taskset -c 0`.
taskset -p -c 1 $$ >/dev/null || die "cannot pin this script to CPU 1"

# ---------------------------------------------------------------- measuring
CLK_TCK=$(getconf CLK_TCK)
cpu_snap() { # "busy0 total0 busy1 total1" jiffies (busy = user+nice+system+irq+softirq)
  awk '$1=="cpu0"||$1=="cpu1"{b=$2+$3+$4+$7+$8; printf "%s %s ", b, b+$5+$6+$9} END{print ""}' /proc/stat
}
proc_ticks() { # pgid... -> utime+stime (ticks) summed over the groups' processes
  local g pid t=0 v
  for g in "$@"; do
    for pid in $(pgrep -g "$g" 2>/dev/null); do
      v=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || continue
      t=$((t + ${v:-0}))
    done
  done
  echo "$t"
}
to_ms() { # wrk latency string (812.00us, 1.23ms, 1.02s) -> ms
  awk -v v="$1" 'BEGIN{
    if (v ~ /us$/) {sub(/us$/,"",v); printf "%.3f", v/1000}
    else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.3f", v}
    else if (v ~ /m$/) {sub(/m$/,"",v); printf "%.3f", v*60000}
    else if (v ~ /s$/) {sub(/s$/,"",v); printf "%.3f", v*1000}
    else printf "NA"}'
}
median() { # values... (NA skipped) -> median
  printf '%s\n' "$@" | awk '$1!="NA" && $1!=""' | sort -g | awk '{a[NR]=$1} END{
    if (NR==0) {print "NA"; exit}
    if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'
}
fmt() { awk -v v="$2" -v d="$1" 'BEGIN{ if (v=="NA"||v=="") print "NA"; else printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="NA"||b=="NA"||a==""||b==""||b+0==0) print "NA"; else printf "%.3f", a/b }'; }
parse_rps() { awk '/^Requests\/sec:/{print $2}' "$1"; }
parse_reqs() { awk '/ requests in /{print $1}' "$1"; }
parse_secs() { # wrk "N requests in 4.96s," -> seconds
  awk '/ requests in /{v=$4; sub(/,$/,"",v); if (v ~ /ms$/){sub(/ms$/,"",v); v/=1000} else if (v ~ /m$/){sub(/m$/,"",v); v*=60} else sub(/s$/,"",v); print v}' "$1"
}
parse_pct() { awk -v p="$2" '$1==p{print $2}' "$1"; }
parse_errs() { # socket errors + non-2xx/3xx, as a short string ("0" when none)
  local e n s=""
  e=$(grep -o 'Socket errors:.*' "$1" | sed 's/Socket errors: //' || true)
  n=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$1")
  [ -n "$e" ] && s="sock: $e"
  [ -n "$n" ] && s="${s:+$s; }non-2xx: $n"
  grep -q '^Requests/sec:' "$1" || s="${s:+$s; }wrk failed"
  echo "${s:-0}"
}
metric() { # name -> value from shopd /metrics (summed over label sets), 0 if absent
  curl -s --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" |
    awk -v n="$1" '$1==n || index($1, n"{")==1 {s+=$NF} END{printf "%.0f\n", s+0}'
}
cache_counts() { # -> "hits misses" of shopd's products cache
  curl -s --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" |
    awk '/^shopd_cache_hits_total\{/ && /cache="products"/ {h+=$NF}
         /^shopd_cache_misses_total\{/ && /cache="products"/ {m+=$NF}
         END{printf "%.0f %.0f\n", h+0, m+0}'
}

# case -> server: a server is one or more process groups (SRV_PID holds their
# PIDs); the cache and queue peers also use the shared redis-server.
declare -A SERVER LABEL URL SRV_PID SRV_LOG
SERVER[nginx]=nginx;        LABEL[nginx]="nginx GET /health";        URL[nginx]="http://127.0.0.1:$NGINX_PORT/health"
SERVER[express]=express;    LABEL[express]="express GET /health";    URL[express]="http://127.0.0.1:$EXPRESS_PORT/health"
SERVER[shopd-health]=shopd; LABEL[shopd-health]="shopd GET /health"; URL[shopd-health]="http://127.0.0.1:$SHOPD_PORT/health"
SERVER[shopd-me]=shopd;     LABEL[shopd-me]="shopd GET /v1/users/me (bearer)"; URL[shopd-me]="http://127.0.0.1:$SHOPD_PORT/v1/users/me"
SERVER[shopd-product]=shopd; LABEL[shopd-product]="shopd GET /v1/products/{id} (cached)"; URL[shopd-product]=""  # id set at start
SERVER[express-cache]=cache; LABEL[express-cache]="express GET /cache/k1 (Redis hit)"; URL[express-cache]="http://127.0.0.1:$CACHE_PORT/cache/k1"
SERVER[orders]=shopd;       LABEL[orders]="shopd POST /v1/orders -> saga final"
SERVER[bullmq]=queue;       LABEL[bullmq]="BullMQ POST /order -> job completed"
SERVER[auth-flood]=shopd;   LABEL[auth-flood]="shopd reads under a login flood"
SERVER[register-spike]=shopd; LABEL[register-spike]="shopd reads during a registration spike"
declare -A DESC
DESC[nginx]="nginx 1 worker, return 200 (peers nginx.conf.in)"
DESC[express]="hello.js single process (Express)"
DESC[shopd]="shopd Release, --threads 1 --workers $SHOPD_WORKERS, access log $( [ "$ACCESS_LOG" = true ] && echo "on (to a file)" || echo off)"
DESC[cache]="cache.js single process (Express + node-redis) + redis-server"
DESC[queue]="queue.js single process (Express + BullMQ) + worker.js (concurrency $WORKER_CONCURRENCY) + redis-server"
case_pgids() { # case -> the PIDs (process groups) of every process serving it
  local s=${SERVER[$1]}
  echo "${SRV_PID[$s]:-}"
  case $s in cache|queue) echo "${SRV_PID[redis]:-}" ;; esac
}

SHOPD_STDOUT=""   # access log + app log (scratch, truncated between runs)
PRODUCT_ID=""
node_env() { # port -> the environment peers/bench.sh start_node gives a Node server
  echo PORT="$1" HOST=127.0.0.1 CLUSTER=0 WORKERS=1 REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    REDIS_HOST=127.0.0.1 REDIS_PORT="$REDIS_PORT"
}
start_server() { # nginx|express|shopd|redis|cache|queue -> SRV_PID[name]
  local s=$1 port pid logf
  [ -n "${SRV_PID[$s]:-}" ] && return 0
  case $s in cache|queue) start_server redis ;; esac
  case $s in
    nginx) port=$NGINX_PORT ;; express) port=$EXPRESS_PORT ;; shopd) port=$SHOPD_PORT ;;
    redis) port=$REDIS_PORT ;; cache) port=$CACHE_PORT ;; queue) port=$QUEUE_PORT ;;
  esac
  port_in_use "$port" && die "port $port is already in use (set PORT to another base)"
  case $s in
    nginx)
      local prefix=$WORK/nginx
      mkdir -p "$prefix"
      # same rendering as peers/bench.sh start_nginx (1 worker)
      sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@WORKERS@|1|g" \
        "$PEERS_CACHE/nginx/nginx.conf.in" > "$prefix/nginx.conf"
      cp "$prefix/nginx.conf" "$OUT/nginx.conf"
      logf=$OUT/nginx.log
      start_bg "$logf" "${SRV_PIN[@]}" "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
      pid=$LAST_PID
      wait_http "${URL[nginx]}" "$pid" "$logf" ;;
    express)
      # as peers/bench.sh start_node hello.js 0 1
      logf=$OUT/express.log
      start_bg "$logf" env PORT="$EXPRESS_PORT" HOST=127.0.0.1 CLUSTER=0 WORKERS=1 \
        "${SRV_PIN[@]}" node "$PEERS_CACHE/node/hello.js"
      pid=$LAST_PID
      wait_http "${URL[express]}" "$pid" "$logf" ;;
    redis)
      # as peers/bench.sh start_redis (pinned mode): one redis-server for the
      # cache and queue peers, on the servers' CPU
      mkdir -p "$WORK/redis"
      logf=$OUT/redis.log
      start_bg "$logf" "${SRV_PIN[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$WORK/redis" --daemonize no --protected-mode yes
      pid=$LAST_PID
      local i up=0
      for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { tail -20 "$logf" >&2; die "redis-server exited during start-up"; }
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && { up=1; break; }
        sleep 0.1
      done
      [ "$up" = 1 ] || die "redis-server did not start (log: $logf)" ;;
    cache)
      # as peers/bench.sh start_node cache.js 0 1, then its two warming GETs
      logf=$OUT/cache.log
      # shellcheck disable=SC2046
      start_bg "$logf" env $(node_env "$CACHE_PORT") "${SRV_PIN[@]}" node "$PEERS_CACHE/node/cache.js"
      pid=$LAST_PID
      wait_http "http://127.0.0.1:$CACHE_PORT/health" "$pid" "$logf"
      curl -sf --max-time 10 -o /dev/null "${URL[express-cache]}" || die "cache.js: first GET /cache/k1 failed"
      curl -sf --max-time 10 "${URL[express-cache]}" | grep -q '"Redis Cache"' ||
        die "cache.js: GET /cache/k1 is not a Redis hit after warming" ;;
    queue)
      # as peers/bench.sh bench_queue (single): queue.js, then worker.js
      logf=$OUT/queue.log
      # shellcheck disable=SC2046
      start_bg "$logf" env $(node_env "$QUEUE_PORT") "${SRV_PIN[@]}" node "$PEERS_CACHE/node/queue.js"
      pid=$LAST_PID
      wait_http "http://127.0.0.1:$QUEUE_PORT/health" "$pid" "$logf"
      start_bg "$OUT/worker.log" env REDIS_HOST=127.0.0.1 REDIS_PORT="$REDIS_PORT" \
        CONCURRENCY="$WORKER_CONCURRENCY" "${SRV_PIN[@]}" node "$PEERS_CACHE/node/worker.js"
      wait_log "$OUT/worker.log" "ready" "$LAST_PID"
      pid="$pid $LAST_PID" ;;
    shopd)
      mkdir -p -m 700 "$WORK/shopd-data"  # shopd refuses a data dir writable by group or others
      SHOPD_STDOUT=$WORK/shopd-stdout.log
      logf=$SHOPD_STDOUT
      # >> (O_APPEND) so the file can be truncated between runs; the admin
      # account is created at start-up from SHOPD_ADMIN_EMAIL/PASSWORD
      # The orders case sends every order as one user (bench/wrk/post_order.lua):
      # SHOPD_ORDER_LIMITS lifts that user's order rate and pending cap (see the knobs).
      # shellcheck disable=SC2086
      setsid env SHOPD_ADMIN_EMAIL="$ADMIN_EMAIL" SHOPD_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        "${SRV_PIN[@]}" "$SHOPD" serve --listen "127.0.0.1:$SHOPD_PORT" --threads 1 \
        --workers "$SHOPD_WORKERS" --data-dir "$WORK/shopd-data" --access-log "$ACCESS_LOG" \
        $SHOPD_ORDER_LIMITS \
        >>"$SHOPD_STDOUT" 2>>"$OUT/shopd-stderr.log" </dev/null &
      pid=$!
      STARTED+=("$pid")
      wait_http "${URL[shopd-health]}" "$pid" "$logf"
      head -5 "$SHOPD_STDOUT" > "$OUT/shopd-stdout-head.log"
      local code
      code=$(curl -s --max-time 30 -o "$OUT/shopd-register.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\",\"name\":\"Bench User\"}" \
        "http://127.0.0.1:$SHOPD_PORT/v1/auth/register")
      [ "$code" = 201 ] || die "register returned $code: $(cat "$OUT/shopd-register.json")"
      if needs_product; then
        local admin_token
        admin_token=$(login_token "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
        code=$(curl -s --max-time 30 -o "$OUT/shopd-product.json" -w '%{http_code}' \
          -H 'Content-Type: application/json' -H "Authorization: Bearer $admin_token" \
          -d "{\"name\":\"Bench product\",\"description\":\"bench/run.sh\",\"price_cents\":1999,\"currency\":\"USD\",\"stock\":$PRODUCT_STOCK}" \
          "http://127.0.0.1:$SHOPD_PORT/v1/products")
        [ "$code" = 201 ] || die "POST /v1/products (admin) returned $code: $(cat "$OUT/shopd-product.json")"
        PRODUCT_ID=$(grep -o '"id":"[^"]*"' "$OUT/shopd-product.json" | head -1 | sed 's/.*:"\(.*\)"/\1/')
        [ -n "$PRODUCT_ID" ] || die "no product id in $(cat "$OUT/shopd-product.json")"
        URL[shopd-product]="http://127.0.0.1:$SHOPD_PORT/v1/products/$PRODUCT_ID"
      fi ;;
  esac
  SRV_PID[$s]=$pid
  SRV_LOG[$s]=$logf
  # a server must answer 200 on what is measured (for shopd-product this GET
  # also warms the cache)
  local c
  for c in $CASES; do
    [ "${SERVER[$c]}" = "$s" ] && ! is_queue_case "$c" && ! is_auth_case "$c" || continue
    if [ "$c" = shopd-me ]; then
      TOKEN=$(login_token)
      code=$(curl -s --max-time 10 -o "$OUT/shopd-me.json" -w '%{http_code}' \
        -H "Authorization: Bearer $TOKEN" "${URL[$c]}")
    else
      code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "${URL[$c]}")
    fi
    [ "$code" = 200 ] || die "$c: ${URL[$c]} answered $code, expected 200"
  done
  log "$s started (pid $pid, pinned to CPU 0)"
}
stop_server() {
  local s=$1 p pids=()
  [ -n "${SRV_PID[$s]:-}" ] || return 0
  if [ "$s" = shopd ] && [ -n "$SHOPD_STDOUT" ]; then
    curl -s --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" > "$OUT/shopd-metrics-final.txt" || true
    timeout 30 "$SHOPD" queue stats --data-dir "$WORK/shopd-data" > "$OUT/shopd-queue-stats.txt" 2>&1 || true
  fi
  read -r -a pids <<< "${SRV_PID[$s]}"
  for ((p = ${#pids[@]} - 1; p >= 0; p--)); do stop_group "${pids[$p]}"; done   # worker.js before queue.js
  SRV_PID[$s]=""
  if [ "$s" = shopd ] && [ -n "$SHOPD_STDOUT" ]; then
    tail -5 "$SHOPD_STDOUT" > "$OUT/shopd-stdout-tail.log" 2>/dev/null || true
  fi
}
login_token() { # [email password] -> access token (default: the bench user)
  local body tok
  body=$(curl -s --max-time 30 -H 'Content-Type: application/json' \
    -d "{\"email\":\"${1:-$BENCH_EMAIL}\",\"password\":\"${2:-$BENCH_PASSWORD}\"}" \
    "http://127.0.0.1:$SHOPD_PORT/v1/auth/login")
  tok=$(printf '%s' "$body" | grep -o '"access_token":"[^"]*"' | sed 's/.*:"\(.*\)"/\1/')
  [ -n "$tok" ] || die "login failed: $body"
  printf '%s' "$tok"
}

declare -A R_RPS R_P50 R_P99 R_CPU R_US R_PUS R_ERR R_REQ R_LOG R_DROP R_CACHE
# measure case label duration -> one wrk run; fills R_*[case,label]
measure() {
  local c=$1 k=$2 dur=$3 s=${SERVER[$1]} f hdr=() pgids before after p0 p1 pid rc=0 drop0=0 drop1=0 h0 m0 h1 m1
  f=$OUT/$c-$k.txt
  pgids=$(case_pgids "$c")
  if [ "$c" = shopd-me ]; then
    TOKEN=$(login_token)     # a fresh 15-minute token for every run
    hdr=(-H "Authorization: Bearer $TOKEN")
  fi
  if [ "$s" = shopd ]; then
    [ "$ACCESS_LOG" = true ] && drop0=$(metric shopd_access_log_dropped_lines_total)
    [ "$c" = shopd-product ] && read -r h0 m0 < <(cache_counts)
    sleep 0.3; : > "$SHOPD_STDOUT"   # access log of this run only
  fi
  # shellcheck disable=SC2086
  before=$(cpu_snap); p0=$(proc_ticks $pgids)
  setsid timeout -k 5 $(( $(secs "$dur") + 30 )) "${WRK_PIN[@]}" \
    wrk -t1 -c"$CONNS" -d"$dur" --latency "${hdr[@]+"${hdr[@]}"}" "${URL[$c]}" >"$f" 2>&1 </dev/null &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  # shellcheck disable=SC2086
  after=$(cpu_snap); p1=$(proc_ticks $pgids)
  [ "$rc" = 0 ] || echo "wrk exit status $rc" >> "$f"
  local reqs rps
  reqs=$(parse_reqs "$f"); reqs=${reqs:-0}
  rps=$(parse_rps "$f"); rps=${rps:-NA}
  # cpu busy % per CPU and server-side CPU time per request
  read -r R_CPU["$c,$k"] R_US["$c,$k"] < <(awk -v b="$before" -v a="$after" -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN{
    split(b, x, " "); split(a, y, " ")
    d0=y[2]-x[2]; d1=y[4]-x[4]; u0=y[1]-x[1]; u1=y[3]-x[3]
    c0=(d0>0?100*u0/d0:0); c1=(d1>0?100*u1/d1:0)
    us=(n>0 ? 1e6*(u0/hz)/n : "NA")
    printf "%d/%d %s\n", c0+0.5, c1+0.5, us }')
  R_PUS["$c,$k"]=$(awk -v t=$((p1 - p0)) -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN{ if (n>0) printf "%.4f", 1e6*(t/hz)/n; else print "NA" }')
  R_RPS["$c,$k"]=$rps
  R_REQ["$c,$k"]=$reqs
  R_P50["$c,$k"]=$(to_ms "$(parse_pct "$f" 50%)")
  R_P99["$c,$k"]=$(to_ms "$(parse_pct "$f" 99%)")
  R_ERR["$c,$k"]=$(parse_errs "$f")
  if [ "$s" = shopd ]; then
    sleep 0.3   # the access log is flushed every ~100 ms
    R_LOG["$c,$k"]=$(wc -l < "$SHOPD_STDOUT")
    if [ "$ACCESS_LOG" = true ]; then drop1=$(metric shopd_access_log_dropped_lines_total); fi
    R_DROP["$c,$k"]=$((drop1 - drop0))
    if [ "$c" = shopd-product ]; then
      read -r h1 m1 < <(cache_counts)
      R_CACHE["$c,$k"]="$((h1 - h0))/$((m1 - m0))"
    fi
    : > "$SHOPD_STDOUT"
  fi
  log "$c $k: $rps req/s p50 ${R_P50[$c,$k]} ms p99 ${R_P99[$c,$k]} ms cpu0/cpu1 ${R_CPU[$c,$k]}% $(fmt 2 "${R_US[$c,$k]}") us CPU/req (process $(fmt 2 "${R_PUS[$c,$k]}")) errors ${R_ERR[$c,$k]}${R_LOG[$c,$k]:+ access-log lines ${R_LOG[$c,$k]} dropped ${R_DROP[$c,$k]}}${R_CACHE[$c,$k]:+ cache hits/misses ${R_CACHE[$c,$k]}}"
}

# ---------------------------------------------------------------- orders end to end
# queue_counts case -> "accepted final unsuccessful", or "NA NA NA" when the
# server cannot be read. shopd: shopd_orders_placed_total, the sum of
# shopd_orders_finished_total{status=...}, and the finished ones not
# "confirmed". BullMQ (as peers/bench.sh queue_counts): bull:orders:id,
# ZCARD completed + ZCARD failed, and ZCARD failed. This script runs on CPU 1,
# so the poller (curl / redis-cli, awk) stays off the servers' CPU.
queue_counts() {
  case $1 in
    orders)
      { curl -sf --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" || echo "__failed__"; } | awk '
        $1=="__failed__" {bad=1}
        $1=="shopd_orders_placed_total" {p=$NF; seen=1}
        index($1, "shopd_orders_finished_total{")==1 {f+=$NF; if ($1 !~ /status="confirmed"/) u+=$NF}
        END{ if (bad || !seen) print "NA NA NA"; else printf "%.0f %.0f %.0f\n", p, f+0, u+0 }' ;;
    bullmq)
      printf 'GET bull:orders:id\nZCARD bull:orders:completed\nZCARD bull:orders:failed\n' |
        redis-cli -p "$REDIS_PORT" 2>/dev/null |
        awk '{v[NR]=($1==""?0:$1)} END{ if (NR<3) print "NA NA NA"; else print v[1]+0, v[2]+v[3], v[3]+0 }' ;;
  esac
}
declare -A Q_ACC Q_WRK_S Q_E2E_S Q_DRAIN_S Q_RATE Q_RPS Q_P50 Q_P99 Q_ERR Q_BAD Q_CPU Q_US Q_PUS
# measure_orders case label orders -> one bounded POST run and the wait until
# every accepted order/job is final; fills Q_*[case,label]. Mirrors
# peers/bench.sh queue_run: t0 = wrk start, t1 = wrk end, t2 = the first poll
# (every 20 ms) where final >= accepted, confirmed by the next poll seeing the
# same accepted count (requests in flight when wrk stopped may still land).
measure_orders() {
  local c=$1 k=$2 n=$3 f url lua envs=() pgids a0 f0 b0 a1 f1 b1 t0 t1 t2="" last="" stable=0
  local before mid after p0 p1 pid rc=0 deadline timed_out=0
  f=$OUT/$c-$k.txt
  pgids=$(case_pgids "$c")
  case $c in
    orders)
      url="http://127.0.0.1:$SHOPD_PORT/v1/orders"
      lua=$BENCH_DIR/wrk/post_order.lua
      envs=(TOKEN="$(login_token)" PRODUCT_ID="$PRODUCT_ID" KEY_PREFIX="$STAMP-$k")
      [ -n "$SHOPD_STDOUT" ] && : > "$SHOPD_STDOUT" ;;
    bullmq)
      url="http://127.0.0.1:$QUEUE_PORT/order"
      lua=$PEERS_CACHE/wrk/post_order.lua ;;
  esac
  read -r a0 f0 b0 < <(queue_counts "$c")
  [ "$a0" != NA ] || die "$c: cannot read the order counters before $k"
  # shellcheck disable=SC2086
  before=$(cpu_snap); p0=$(proc_ticks $pgids)
  t0=$(date +%s.%N)
  setsid timeout -k 5 $((ORDERS_CAP + 30)) env ORDERS="$n" "${envs[@]+"${envs[@]}"}" "${WRK_PIN[@]}" \
    wrk -t1 -c"$CONNS" -d"${ORDERS_CAP}s" --latency -s "$lua" "$url" >"$f" 2>&1 </dev/null &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  t1=$(date +%s.%N)
  mid=$(cpu_snap)
  [ "$rc" = 0 ] || echo "wrk exit status $rc" >> "$f"
  deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
  while :; do
    read -r a1 f1 b1 < <(queue_counts "$c")
    if [ "$a1" != NA ] && [ $((f1 - f0)) -ge $((a1 - a0)) ]; then
      if [ "$last" = "$a1" ]; then stable=$((stable + 1)); else stable=0; fi
      last=$a1
      [ "$stable" -ge 1 ] && break
      t2=$(date +%s.%N)
    else
      last=""; stable=0; t2=""
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then timed_out=1; break; fi
    sleep 0.02
  done
  # shellcheck disable=SC2086
  after=$(cpu_snap); p1=$(proc_ticks $pgids)
  [ -n "$t2" ] || t2=$(date +%s.%N)
  if [ "$a1" = NA ]; then a1=$a0; f1=$f0; b1=$b0; fi
  Q_ACC["$c,$k"]=$((a1 - a0))
  Q_BAD["$c,$k"]=$((b1 - b0))
  Q_WRK_S["$c,$k"]=$(parse_secs "$f"); Q_WRK_S["$c,$k"]=${Q_WRK_S[$c,$k]:-NA}
  Q_E2E_S["$c,$k"]=$(awk -v a="$t0" -v b="$t2" 'BEGIN{printf "%.3f", b-a}')
  Q_DRAIN_S["$c,$k"]=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.3f", b-a}')
  Q_RATE["$c,$k"]=$(awk -v n="${Q_ACC[$c,$k]}" -v s="${Q_E2E_S[$c,$k]}" 'BEGIN{ if (s>0 && n>0) printf "%.1f", n/s; else print "NA" }')
  Q_RPS["$c,$k"]=$(parse_rps "$f"); Q_RPS["$c,$k"]=${Q_RPS[$c,$k]:-NA}
  Q_P50["$c,$k"]=$(to_ms "$(parse_pct "$f" 50%)")
  Q_P99["$c,$k"]=$(to_ms "$(parse_pct "$f" 99%)")
  Q_ERR["$c,$k"]=$(parse_errs "$f")
  if [ "$timed_out" = 1 ]; then
    Q_RATE["$c,$k"]=NA
    local e=${Q_ERR[$c,$k]}; [ "$e" = 0 ] && e=""
    Q_ERR["$c,$k"]="${e:+$e; }not final after ${DRAIN_TIMEOUT}s (accepted $((a1 - a0)), final $((f1 - f0)))"
  fi
  # CPU busy % while wrk posted (as peers/bench.sh reports it); CPU per order
  # over the whole end-to-end interval (wrk start to the last poll)
  Q_CPU["$c,$k"]=$(awk -v b="$before" -v a="$mid" 'BEGIN{
    split(b, x, " "); split(a, y, " "); d0=y[2]-x[2]; d1=y[4]-x[4]
    printf "%d/%d", (d0>0?100*(y[1]-x[1])/d0:0)+0.5, (d1>0?100*(y[3]-x[3])/d1:0)+0.5 }')
  Q_US["$c,$k"]=$(awk -v b="$before" -v a="$after" -v n="${Q_ACC[$c,$k]}" -v hz="$CLK_TCK" 'BEGIN{
    split(b, x, " "); split(a, y, " "); if (n>0) printf "%.2f", 1e6*((y[1]-x[1])/hz)/n; else print "NA" }')
  Q_PUS["$c,$k"]=$(awk -v t=$((p1 - p0)) -v n="${Q_ACC[$c,$k]}" -v hz="$CLK_TCK" 'BEGIN{ if (n>0) printf "%.2f", 1e6*(t/hz)/n; else print "NA" }')
  if [ "$c" = orders ]; then
    curl -s --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" > "$OUT/$c-$k-metrics.txt" || true
    [ -n "$SHOPD_STDOUT" ] && : > "$SHOPD_STDOUT"
  fi
  log "$c $k: accepted ${Q_ACC[$c,$k]} (unsuccessful ${Q_BAD[$c,$k]}); POST ${Q_WRK_S[$c,$k]}s ${Q_RPS[$c,$k]} req/s p50 ${Q_P50[$c,$k]} ms p99 ${Q_P99[$c,$k]} ms cpu0/cpu1 ${Q_CPU[$c,$k]}%; end-to-end ${Q_E2E_S[$c,$k]}s (drain ${Q_DRAIN_S[$c,$k]}s) -> ${Q_RATE[$c,$k]}/s; ${Q_US[$c,$k]} us cpu0/order (process ${Q_PUS[$c,$k]}); errors ${Q_ERR[$c,$k]}"
}

cpu_idle_pct() { # idle % of the whole machine over 1 s
  local a b ta=0 tb=0 i
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) tot=$((tb - ta))
  [ "$tot" -gt 0 ] || tot=1
  echo $((100 * idle / tot))
}
NOTES=$OUT/notes.md; : > "$NOTES"
load_check() { # label
  local idle
  idle=$(cpu_idle_pct)
  echo "- $1: load avg $(cut -d' ' -f1-3 /proc/loadavg); machine ${idle}% idle (1 s sample)" >> "$NOTES"
  if [ "$idle" -lt 85 ]; then
    echo "  - WARNING: the machine was busy; top CPU users:" >> "$NOTES"
    top -b -n1 -o %CPU -w 200 2>/dev/null | awk 'NR>7 && $9+0 > 0' | head -5 | cut -c1-160 | sed 's/^/    /' >> "$NOTES" || true
  fi
}

# ---------------------------------------------------------------- run
RUN_LABELS=(); for r in $(seq "$RUNS"); do RUN_LABELS+=("run$r"); done
measure_case() { # case label -> a wrk run (HTTP cases) or an orders run (queue cases)
  if is_queue_case "$1"; then
    if [ "$2" = warmup ]; then measure_orders "$1" warmup "$WARMUP_ORDERS"; else measure_orders "$1" "$2" "$ORDERS"; fi
  else
    if [ "$2" = warmup ]; then measure "$1" warmup "$WARMUP"; else measure "$1" "$2" "$DURATION"; fi
  fi
}
warmup_what() { if is_queue_case "$1"; then echo "$WARMUP_ORDERS orders"; else echo "$WARMUP"; fi; }
ALL_SERVERS="nginx express cache queue shopd redis"
T_START=$(date -u '+%Y-%m-%d %H:%M:%S')
if [ "$ORDER" = interleaved ]; then
  # phase 1: the HTTP cases, all their servers up, runs alternating;
  # phase 2: the orders cases, the same way, with only their servers up
  phase=0
  for cases in "$HTTP_CASES" "$QUEUE_CASES"; do
    [ -n "$cases" ] || continue
    phase=$((phase + 1))
    if [ "$phase" = 2 ]; then
      for s in $ALL_SERVERS; do   # stop what the orders cases do not use
        keep_srv=0
        for c in $cases; do
          [ "${SERVER[$c]}" = "$s" ] && keep_srv=1
          [ "$s" = redis ] && [ "${SERVER[$c]}" = queue ] && keep_srv=1
        done
        [ "$keep_srv" = 1 ] || stop_server "$s"
      done
    fi
    load_check "before $cases"
    for c in $cases; do start_server "${SERVER[$c]}"; done
    for c in $cases; do log "$c: warm-up $(warmup_what "$c")"; measure_case "$c" warmup; done
    for k in "${RUN_LABELS[@]}"; do
      for c in $cases; do measure_case "$c" "$k"; done
    done
  done
  for s in $ALL_SERVERS; do stop_server "$s"; done
else
  read -r -a CASE_ARR <<< "$CASES"
  for i in "${!CASE_ARR[@]}"; do
    c=${CASE_ARR[$i]}
    if [ -z "${SRV_PID[${SERVER[$c]}]:-}" ]; then load_check "before $c"; fi
    start_server "${SERVER[$c]}"
    log "$c: warm-up $(warmup_what "$c")"; measure_case "$c" warmup
    for k in "${RUN_LABELS[@]}"; do measure_case "$c" "$k"; done
    later=0
    for j in "${!CASE_ARR[@]}"; do
      [ "$j" -gt "$i" ] && [ "${SERVER[${CASE_ARR[$j]}]}" = "${SERVER[$c]}" ] && later=1
    done
    [ "$later" = 1 ] || stop_server "${SERVER[$c]}"
  done
  for s in $ALL_SERVERS; do stop_server "$s"; done
fi
# phase 3: the auth cases, shopd alone on a fresh data dir; bench/auth_load.py
# runs wrk on the reads and the login flood / registration spike beside it
if [ -n "$AUTH_CASES" ]; then
  for s in $ALL_SERVERS; do stop_server "$s"; done
  rm -rf "$WORK/shopd-data"
  load_check "before $AUTH_CASES"
  start_server shopd
  for c in $AUTH_CASES; do
    log "$c: bench/auth_load.py ($RUNS run(s) of $(secs "$DURATION") s per read, quiet and loaded)"
    run_bounded $(( RUNS * 4 * ($(secs "$DURATION") + 40) + 60 )) "$OUT/$c.md" \
      python3 "$BENCH_DIR/auth_load.py" "$c" --port "$SHOPD_PORT" --product-id "$PRODUCT_ID" \
      --email "$BENCH_EMAIL" --password "$BENCH_PASSWORD" --duration "$(secs "$DURATION")" --runs "$RUNS" \
      --conns "$CONNS" --flood-rate "$FLOOD_RATE" --register-rate "$REGISTER_RATE" --out "$OUT" ||
      { tail -20 "$OUT/$c.md" >&2; die "$c failed (log: $OUT/$c.md)"; }
    grep '^\[' "$OUT/$c.md" >&2 || true
  done
  stop_server shopd
fi
load_check "after the last run"
T_END=$(date -u '+%Y-%m-%d %H:%M:%S')
# ---------------------------------------------------------------- report
declare -A M_RPS M_US
vals() { # array-name case -> the measured runs' values
  local -n arr=$1; local k
  for k in "${RUN_LABELS[@]}"; do echo "${arr[$2,$k]:-NA}"; done
}
for c in $HTTP_CASES; do
  M_RPS[$c]=$(median $(vals R_RPS "$c"))
  M_US[$c]=$(median $(vals R_US "$c"))
done
median_cpu() { # array-name case -> "m0/m1"
  local -n carr=$1; local k a=() b=()
  for k in "${RUN_LABELS[@]}"; do a+=("${carr[$2,$k]%/*}"); b+=("${carr[$2,$k]#*/}"); done
  echo "$(fmt 0 "$(median "${a[@]}")")/$(fmt 0 "$(median "${b[@]}")")"
}
per_run() { # array-name case -> "a / b / c"
  local -n parr=$1; local k out=""
  for k in "${RUN_LABELS[@]}"; do out="$out${out:+ / }$(fmt 0 "${parr[$2,$k]:-NA}")"; done
  echo "$out"
}
errs_of() { # array-name case -> distinct error strings of the measured runs
  local -n earr=$1; local k
  for k in "${RUN_LABELS[@]}"; do echo "${earr[$2,$k]:-NA}"; done | sort -u | paste -sd';'
}
paired() { # array-name case reference-case -> per-run ratios "a / b / c" (interleaved: same round)
  local -n rarr=$1; local k out=""
  for k in "${RUN_LABELS[@]}"; do out="$out${out:+ / }$(fmt 2 "$(ratio "${rarr[$2,$k]:-NA}" "${rarr[$3,$k]:-NA}")")"; done
  echo "$out"
}
verdict() { # ratio factor errors -> PASS | FAIL | FAIL (errors: ..)
  local v
  v=$(awk -v r="$1" -v f="$2" 'BEGIN{ print (r!="NA" && r+0 >= f+0) ? "PASS" : "FAIL" }')
  [ "$3" = 0 ] || v="FAIL (errors: $3)"
  echo "$v"
}

REPORT=$OUT/results.md
{
  if [ -n "$HTTP_CASES" ]; then
  echo "## shopd vs nginx vs Express (wrk -t1 -c$CONNS -d$DURATION --latency, keep-alive, 127.0.0.1, pinned)"
  echo
  echo "Server on CPU 0 (\`taskset -c 0\`), wrk on CPU 1 (\`taskset -c 1\`); $WARMUP warm-up, then $RUNS run(s) per case, median of each metric;"
  echo "order: $ORDER. \"server µs CPU/request\" = cpu0 busy share × interval / requests (everything on CPU 0, kernel included)."
  echo
  echo "| case | server | req/s (median) | p50 ms | p99 ms | cpu0/cpu1 busy % | server µs CPU/request | ratio to nginx (req/s) | ratio to nginx (CPU/request, nginx÷shopd) | req/s per run | server process µs CPU/request | errors |"
  echo "|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---|"
  for c in $HTTP_CASES; do
    r_rps=NA; r_cpu=NA
    if has_case nginx; then
      r_rps=$(ratio "${M_RPS[$c]}" "${M_RPS[nginx]}")
      r_cpu=$(ratio "${M_US[nginx]}" "${M_US[$c]}")
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "${LABEL[$c]}" "${DESC[${SERVER[$c]}]}" "$(fmt 0 "${M_RPS[$c]}")" \
      "$(fmt 2 "$(median $(vals R_P50 "$c"))")" "$(fmt 2 "$(median $(vals R_P99 "$c"))")" \
      "$(median_cpu R_CPU "$c")" "$(fmt 2 "${M_US[$c]}")" "$(fmt 2 "$r_rps")" "$(fmt 2 "$r_cpu")" \
      "$(per_run R_RPS "$c")" "$(fmt 2 "$(median $(vals R_PUS "$c"))")" "$(errs_of R_ERR "$c")"
  done
  echo
  fi
  if [ -n "$QUEUE_CASES" ]; then
  echo "## Orders end to end: POST x $ORDERS (wrk -t1 -c$CONNS, stops after $ORDERS responses), until every accepted order is final"
  echo
  echo "$WARMUP_ORDERS warm-up orders, then $RUNS run(s) per case, median of each metric; order: $ORDER. Server side on CPU 0, wrk and the poller on CPU 1."
  echo "\"accepted\" = orders the server took (shopd \`shopd_orders_placed_total\`, BullMQ \`bull:orders:id\`), in-flight requests at wrk's stop included;"
  echo "\"end-to-end s\" = wrk start until the 20 ms poll that first saw every accepted order final (shopd: sum of \`shopd_orders_finished_total\`;"
  echo "BullMQ: \`ZCARD completed + failed\`); end-to-end rate = accepted / end-to-end s. \"server µs CPU/order\" = cpu0 busy time from wrk start to the"
  echo "last poll / accepted orders. shopd commits each order (and its outbox event) before its 202; BullMQ's Redis has no persistence (\`--save '' --appendonly no\`)."
  echo
  echo "| case | server | accepted | POST s | POST req/s | p50 ms | p99 ms | cpu0/cpu1 busy % (POST) | end-to-end s | drain after POST s | end-to-end /s (median) | /s per run | server µs CPU/order | server process µs CPU/order | errors; unsuccessful |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---|"
  for c in $QUEUE_CASES; do
    bad=0; for k in "${RUN_LABELS[@]}"; do bad=$((bad + ${Q_BAD[$c,$k]:-0})); done
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "${LABEL[$c]}" "${DESC[${SERVER[$c]}]}" "$(fmt 0 "$(median $(vals Q_ACC "$c"))")" \
      "$(fmt 2 "$(median $(vals Q_WRK_S "$c"))")" "$(fmt 0 "$(median $(vals Q_RPS "$c"))")" \
      "$(fmt 2 "$(median $(vals Q_P50 "$c"))")" "$(fmt 2 "$(median $(vals Q_P99 "$c"))")" \
      "$(median_cpu Q_CPU "$c")" "$(fmt 2 "$(median $(vals Q_E2E_S "$c"))")" "$(fmt 2 "$(median $(vals Q_DRAIN_S "$c"))")" \
      "$(fmt 0 "$(median $(vals Q_RATE "$c"))")" "$(per_run Q_RATE "$c")" \
      "$(fmt 1 "$(median $(vals Q_US "$c"))")" "$(fmt 1 "$(median $(vals Q_PUS "$c"))")" \
      "$(errs_of Q_ERR "$c"); $( [ "$c" = orders ] && echo "not confirmed" || echo "failed jobs"): $bad"
  done
  echo
  fi
  echo "Targets (issues 2 and 3):"
  echo
  if ! has_case shopd-health && ! has_case shopd-me && ! has_case shopd-product && ! has_case orders; then
    echo "- none of the measured cases has a target"
  fi
  target_rps() { # case factor label
    local c=$1 f=$2 what=$3 r e
    if ! has_case "$c" || ! has_case nginx; then echo "- $what >= ${f}x nginx req/s: not measured (needs cases nginx and $c)"; return; fi
    r=$(ratio "${M_RPS[$c]}" "${M_RPS[nginx]}")
    e=$(errs_of R_ERR "$c")
    echo "- $what >= ${f}x nginx req/s: $(fmt 2 "$r")x ($(fmt 0 "${M_RPS[$c]}") vs $(fmt 0 "${M_RPS[nginx]}") req/s; per run: $(paired R_RPS "$c" nginx); CPU/request nginx÷shopd $(fmt 2 "$(ratio "${M_US[nginx]}" "${M_US[$c]}")")) -> **$(verdict "$r" "$f" "$e")**"
  }
  has_case shopd-health && target_rps shopd-health 0.8 "shopd GET /health"
  has_case shopd-me && target_rps shopd-me 0.5 "shopd GET /v1/users/me"
  has_case shopd-product && target_rps shopd-product 0.7 "shopd GET /v1/products/{id} (cached)"
  # issue 2's p99 target names /health and /users/me; the cached product's
  # p99 is shown next to it without a verdict
  p99s=""; p99v=PASS; any=0
  for c in shopd-health shopd-me; do
    has_case "$c" || continue
    any=1
    p=$(median $(vals R_P99 "$c"))
    p99s="$p99s${p99s:+, }${c#shopd-} $(fmt 2 "$p") ms"
    awk -v p="$p" 'BEGIN{ exit !(p!="NA" && p+0 < 2) }' || p99v=FAIL
  done
  if [ "$any" = 1 ]; then
    note=""; [ "$CONNS" = 64 ] || note=" (measured at $CONNS connections, not 64: not comparable)"
    extra=""; has_case shopd-product && extra="; cached product (no target) $(fmt 2 "$(median $(vals R_P99 shopd-product))") ms"
    echo "- shopd p99 < 2 ms at 64 connections (/health, /users/me): $p99s -> **$p99v**$note$extra"
  fi
  if has_case orders; then
    if has_case bullmq; then
      m_o=$(median $(vals Q_RATE orders)); m_b=$(median $(vals Q_RATE bullmq))
      r=$(ratio "$m_o" "$m_b")
      # shopd's errors or unconfirmed orders fail the target; the peer's
      # errors (e.g. wrk timeouts while BullMQ warms up) are shown next to it
      bad=0; for k in "${RUN_LABELS[@]}"; do bad=$((bad + ${Q_BAD[orders,$k]:-0})); done
      v=$(verdict "$r" 3 "$(errs_of Q_ERR orders)")
      [ "$bad" = 0 ] || v="FAIL ($bad orders not confirmed)"
      e=$(errs_of Q_ERR bullmq)
      echo "- shopd end-to-end orders/s >= 3x BullMQ jobs/s: $(fmt 2 "$r")x ($(fmt 0 "$m_o") orders/s vs $(fmt 0 "$m_b") jobs/s; per run: $(paired Q_RATE orders bullmq); CPU/order BullMQ÷shopd $(fmt 2 "$(ratio "$(median $(vals Q_US bullmq))" "$(median $(vals Q_US orders))")"))$( [ "$e" = 0 ] || echo "; BullMQ run errors: $e") -> **$v**"
    else
      echo "- shopd end-to-end orders/s >= 3x BullMQ jobs/s: not measured (needs cases orders and bullmq)"
    fi
  fi
  echo
  for c in $AUTH_CASES; do
    grep -v '^\[' "$OUT/$c.md"
  done
  echo "## Notes"
  echo
  if has_case nginx; then
    c1=$(median_cpu R_CPU nginx); c1=${c1#*/}
    if [ "$c1" != NA ] && [ "$c1" -ge 95 ]; then
      echo "- wrk used ${c1}% of CPU 1 against nginx: that row is client-bound, so a req/s ratio near 1.0 means"
      echo "  \"as fast as this client\", not \"as cheap as nginx\"; the CPU/request columns do not have that ceiling."
    fi
  fi
  if has_case shopd-product && has_case express-cache; then
    echo "- shopd cached product vs Express + Redis \`GET /cache/k1\` (no target): $(fmt 2 "$(ratio "${M_RPS[shopd-product]}" "${M_RPS[express-cache]}")")x req/s, CPU/request express÷shopd $(fmt 2 "$(ratio "${M_US[express-cache]}" "${M_US[shopd-product]}")")."
  fi
  if has_case shopd-product; then
    line="- shopd-product products-cache hits/misses per run (\`--catalog-cache-ttl-ms\` default 5000: an entry is re-read about every 5 s):"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_CACHE[shopd-product,$k]:-NA}"; done
    echo "$line"
  fi
  for c in $HTTP_CASES; do
    [ "${SERVER[$c]}" = shopd ] && [ "$ACCESS_LOG" = true ] || continue
    line="- $c access log lines written per run / wrk requests:"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_LOG[$c,$k]:-NA}/${R_REQ[$c,$k]:-NA}"; done
    line="$line; lines dropped by shopd (shopd_access_log_dropped_lines_total):"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_DROP[$c,$k]:-NA}"; done
    echo "$line"
  done
  if [ -n "$HTTP_CASES" ]; then
    echo "- \"server process µs CPU/request\" = utime+stime of the server's processes (for the Redis peers: Node + redis-server) / requests."
    echo "  When it is well below the cpu0 figure, something else ran on CPU 0 (other processes: see the load checks) or the"
    echo "  kernel kept softirq time apart."
    echo "- per run cpu0/cpu1 busy %:"
    for c in $HTTP_CASES; do
      line="  - $c:"
      for k in "${RUN_LABELS[@]}"; do line="$line ${R_CPU[$c,$k]}"; done
      echo "$line"
    done
  fi
  for c in $QUEUE_CASES; do
    line="- $c per run: accepted / POST s / end-to-end s / drain s / unsuccessful:"
    for k in "${RUN_LABELS[@]}"; do
      line="$line ${Q_ACC[$c,$k]:-NA}/${Q_WRK_S[$c,$k]:-NA}/${Q_E2E_S[$c,$k]:-NA}/${Q_DRAIN_S[$c,$k]:-NA}/${Q_BAD[$c,$k]:-NA};"
    done
    echo "${line%;}"
  done
  if has_case orders && [ -s "$OUT/shopd-queue-stats.txt" ]; then
    echo "- \`shopd queue stats\` at the end: $(paste -sd' ' "$OUT/shopd-queue-stats.txt")"
  fi
  echo "- ratios compare figures from this run only (see peers/RESULTS.md: the client limit moves between runs and days)."
  cat "$NOTES"
  echo
  echo "## Setup"
  echo
  echo "- run: $T_START - $T_END UTC; raw output: bench/out/$STAMP/"
  echo "- machine: $NPROC CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
  if needs_shopd; then
    echo "- shopd $("$SHOPD" --version 2>/dev/null | head -1) ($SHOPD), git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' + uncommitted changes'); --threads 1 --workers $SHOPD_WORKERS, --access-log $ACCESS_LOG (to a file), db-threads and payment simulation at their defaults; per-user order limits lifted for the one load-test user: $SHOPD_ORDER_LIMITS"
  fi
  nm=$PEERS_CACHE/node/node_modules
  echo "- $([ -n "$NGINX_BIN" ] && "$NGINX_BIN" -v 2>&1 | sed 's/nginx version: //; s/$/; /')node $(node -v 2>/dev/null)$(needs_node && echo "; express $(node -p "require('$nm/express/package.json').version")")$(needs_redis && echo "; node-redis $(node -p "require('$nm/redis/package.json').version"); bullmq $(node -p "require('$nm/bullmq/package.json').version"); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  [ -n "$HTTP_CASES" ] && echo "- wrk: -t1 -c$CONNS -d$DURATION --latency after a $WARMUP warm-up; $RUNS run(s) per case"
  [ -n "$QUEUE_CASES" ] && echo "- orders: $ORDERS per run after $WARMUP_ORDERS warm-up, wrk -t1 -c$CONNS -s bench/wrk/post_order.lua (shopd) / peers wrk/post_order.lua (BullMQ); BullMQ worker concurrency $WORKER_CONCURRENCY"
  echo "- ports: nginx $NGINX_PORT, express $EXPRESS_PORT, shopd $SHOPD_PORT, cache.js $CACHE_PORT, queue.js $QUEUE_PORT, redis-server $REDIS_PORT"
} > "$REPORT"
cat "$REPORT"

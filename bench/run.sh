#!/usr/bin/env bash
# bench/run.sh - shopd against nginx (`return 200`) and Express (hello.js) on
# loopback, with the peers' protocol (/work/shared/peers/bench.sh):
#   server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1 (taskset -c 1),
#   one warm-up run (WARMUP), then RUNS runs of
#   wrk -t1 -c$CONNS -d$DURATION --latency; median of each metric.
# While wrk runs, /proc/stat gives cpu0/cpu1 busy %, and
#   server CPU time per request = cpu0 busy share x interval / requests
# (the client cannot hide that figure: it says how much of a core the server
# side used per answered request, whether or not wrk was the bottleneck).
#
# Prints a markdown report on stdout (progress on stderr) and saves it, with
# the raw wrk output and server logs, under bench/out/<timestamp>/ (git-ignored).
# See bench/README.md.
#
# Knobs (env):
#   RUNS=3 DURATION=10s WARMUP=3s CONNS=64
#   CASES="nginx express shopd-health shopd-me"
#   PORT=18400          base port: nginx PORT, express PORT+1, shopd PORT+2
#   ACCESS_LOG=true     shopd --access-log (product default: on); the log goes
#                       to a file under the run's temp dir (O_APPEND, truncated
#                       between runs), like a log file or collector would take it
#   ORDER=interleaved   all servers up at once, runs alternate between cases
#                       (A B C D A B C D ...); "sequential" = one server at a
#                       time, its warm-up and runs, as peers/bench.sh does
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
CASES=${CASES:-"nginx express shopd-health shopd-me"}
PORT=${PORT:-18400}
ACCESS_LOG=${ACCESS_LOG:-true}
ORDER=${ORDER:-interleaved}
PEERS_SRC=${SHOPD_PEERS:-$REPO/../shared/peers}
PEERS_SRC=$(cd "$PEERS_SRC" 2>/dev/null && pwd || echo "$PEERS_SRC")
PEERS_CACHE=${PEERS_CACHE:-$BENCH_DIR/out/peers-cache}
SKIP_DEPS=${SKIP_DEPS:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
SHOPD_BIN=${SHOPD_BIN:-}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-3600}
NPM_TIMEOUT=${NPM_TIMEOUT:-900}
export SHOPD_JWT_SECRET=${SHOPD_JWT_SECRET:-shopd-bench-fixed-jwt-secret-not-for-production-0123456789}

NGINX_PORT=$PORT
EXPRESS_PORT=$((PORT + 1))
SHOPD_PORT=$((PORT + 2))
BENCH_EMAIL=bench@example.com
BENCH_PASSWORD=bench-password-123
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
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65000 ] || die "PORT must be 1024..65000"
case $ACCESS_LOG in true|false) ;; *) die "ACCESS_LOG must be true or false" ;; esac
case $ORDER in interleaved|sequential) ;; *) die "ORDER must be interleaved or sequential" ;; esac
for c in $CASES; do
  case $c in nginx|express|shopd-health|shopd-me) ;; *) die "unknown case '$c' (nginx express shopd-health shopd-me)" ;; esac
done
[ -n "${CASES// /}" ] || die "CASES is empty"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, wrk on CPU 1); nproc = $(nproc)"
[ -n "$SHOPD_BIN" ] && SKIP_BUILD=1
has_case() { [[ " $CASES " == *" $1 "* ]]; }
needs_shopd() { has_case shopd-health || has_case shopd-me; }

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
for tool in wrk nginx node npm curl taskset setsid timeout pgrep sha256sum; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
NGINX_BIN=$(command -v nginx)

if has_case nginx || has_case express; then
  [ -f "$PEERS_SRC/node/hello.js" ] && [ -f "$PEERS_SRC/nginx/nginx.conf.in" ] ||
    die "peers not found at $PEERS_SRC (set SHOPD_PEERS)"
fi
peers_fingerprint() {
  (cd "$PEERS_SRC" && find . \( -name node_modules -o -name tmp \) -prune -o -type f -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | awk '{print $1}'
}
if has_case nginx || has_case express; then
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
    if has_case express; then
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

# ---------------------------------------------------------------- measuring
CLK_TCK=$(getconf CLK_TCK)
cpu_snap() { # "busy0 total0 busy1 total1" jiffies (busy = user+nice+system+irq+softirq)
  awk '$1=="cpu0"||$1=="cpu1"{b=$2+$3+$4+$7+$8; printf "%s %s ", b, b+$5+$6+$9} END{print ""}' /proc/stat
}
proc_ticks() { # pgid -> utime+stime (ticks) summed over the group's processes
  local pid t=0 v
  for pid in $(pgrep -g "$1" 2>/dev/null); do
    v=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || continue
    t=$((t + ${v:-0}))
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

declare -A SERVER LABEL URL SRV_PID SRV_LOG
SERVER[nginx]=nginx;        LABEL[nginx]="nginx GET /health";        URL[nginx]="http://127.0.0.1:$NGINX_PORT/health"
SERVER[express]=express;    LABEL[express]="express GET /health";    URL[express]="http://127.0.0.1:$EXPRESS_PORT/health"
SERVER[shopd-health]=shopd; LABEL[shopd-health]="shopd GET /health"; URL[shopd-health]="http://127.0.0.1:$SHOPD_PORT/health"
SERVER[shopd-me]=shopd;     LABEL[shopd-me]="shopd GET /v1/users/me (bearer)"; URL[shopd-me]="http://127.0.0.1:$SHOPD_PORT/v1/users/me"
declare -A DESC
DESC[nginx]="nginx 1 worker, return 200 (peers nginx.conf.in)"
DESC[express]="hello.js single process (Express)"
DESC[shopd]="shopd Release, --threads 1, access log $( [ "$ACCESS_LOG" = true ] && echo "on (to a file)" || echo off)"

SHOPD_STDOUT=""   # access log + app log (scratch, truncated between runs)
start_server() { # nginx|express|shopd -> SRV_PID[name]
  local s=$1 port pid logf
  [ -n "${SRV_PID[$s]:-}" ] && return 0
  case $s in nginx) port=$NGINX_PORT ;; express) port=$EXPRESS_PORT ;; shopd) port=$SHOPD_PORT ;; esac
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
    shopd)
      mkdir -p "$WORK/shopd-data"
      SHOPD_STDOUT=$WORK/shopd-stdout.log
      logf=$SHOPD_STDOUT
      # >> (O_APPEND) so the file can be truncated between runs
      setsid "${SRV_PIN[@]}" "$SHOPD" serve --listen "127.0.0.1:$SHOPD_PORT" --threads 1 \
        --data-dir "$WORK/shopd-data" --access-log "$ACCESS_LOG" >>"$SHOPD_STDOUT" 2>>"$OUT/shopd-stderr.log" </dev/null &
      pid=$!
      STARTED+=("$pid")
      wait_http "${URL[shopd-health]}" "$pid" "$logf"
      head -5 "$SHOPD_STDOUT" > "$OUT/shopd-stdout-head.log"
      local code
      code=$(curl -s --max-time 30 -o "$OUT/shopd-register.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\",\"name\":\"Bench User\"}" \
        "http://127.0.0.1:$SHOPD_PORT/v1/auth/register")
      [ "$code" = 201 ] || die "register returned $code: $(cat "$OUT/shopd-register.json")" ;;
  esac
  SRV_PID[$s]=$pid
  SRV_LOG[$s]=$logf
  # a server must answer 200 on what is measured
  local c code
  for c in $CASES; do
    [ "${SERVER[$c]}" = "$s" ] || continue
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
  local s=$1
  [ -n "${SRV_PID[$s]:-}" ] || return 0
  if [ "$s" = shopd ] && [ -n "$SHOPD_STDOUT" ]; then
    curl -s --max-time 5 "http://127.0.0.1:$SHOPD_PORT/metrics" > "$OUT/shopd-metrics-final.txt" || true
  fi
  stop_group "${SRV_PID[$s]}"
  SRV_PID[$s]=""
  if [ "$s" = shopd ] && [ -n "$SHOPD_STDOUT" ]; then
    tail -5 "$SHOPD_STDOUT" > "$OUT/shopd-stdout-tail.log" 2>/dev/null || true
  fi
}
login_token() {
  local body tok
  body=$(curl -s --max-time 30 -H 'Content-Type: application/json' \
    -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    "http://127.0.0.1:$SHOPD_PORT/v1/auth/login")
  tok=$(printf '%s' "$body" | grep -o '"access_token":"[^"]*"' | sed 's/.*:"\(.*\)"/\1/')
  [ -n "$tok" ] || die "login failed: $body"
  printf '%s' "$tok"
}

declare -A R_RPS R_P50 R_P99 R_CPU R_US R_PUS R_ERR R_REQ R_LOG R_DROP
# measure case label duration -> one wrk run; fills R_*[case,label]
measure() {
  local c=$1 k=$2 dur=$3 s=${SERVER[$1]} f hdr=() pgid before after p0 p1 pid rc=0 drop0=0 drop1=0
  f=$OUT/$c-$k.txt
  pgid=${SRV_PID[$s]}
  if [ "$c" = shopd-me ]; then
    TOKEN=$(login_token)     # a fresh 15-minute token for every run
    hdr=(-H "Authorization: Bearer $TOKEN")
  fi
  if [ "$s" = shopd ]; then
    [ "$ACCESS_LOG" = true ] && drop0=$(metric shopd_access_log_dropped_lines_total)
    sleep 0.3; : > "$SHOPD_STDOUT"   # access log of this run only
  fi
  before=$(cpu_snap); p0=$(proc_ticks "$pgid")
  setsid timeout -k 5 $(( $(secs "$dur") + 30 )) "${WRK_PIN[@]}" \
    wrk -t1 -c"$CONNS" -d"$dur" --latency "${hdr[@]+"${hdr[@]}"}" "${URL[$c]}" >"$f" 2>&1 </dev/null &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  after=$(cpu_snap); p1=$(proc_ticks "$pgid")
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
    : > "$SHOPD_STDOUT"
  fi
  log "$c $k: $rps req/s p50 ${R_P50[$c,$k]} ms p99 ${R_P99[$c,$k]} ms cpu0/cpu1 ${R_CPU[$c,$k]}% $(fmt 2 "${R_US[$c,$k]}") us CPU/req (process $(fmt 2 "${R_PUS[$c,$k]}")) errors ${R_ERR[$c,$k]}${R_LOG[$c,$k]:+ access-log lines ${R_LOG[$c,$k]} dropped ${R_DROP[$c,$k]}}"
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
T_START=$(date -u '+%Y-%m-%d %H:%M:%S')
if [ "$ORDER" = interleaved ]; then
  load_check "before start"
  for c in $CASES; do start_server "${SERVER[$c]}"; done
  for c in $CASES; do log "$c: warm-up $WARMUP"; measure "$c" warmup "$WARMUP"; done
  for k in "${RUN_LABELS[@]}"; do
    for c in $CASES; do measure "$c" "$k" "$DURATION"; done
  done
  for s in nginx express shopd; do stop_server "$s"; done
else
  read -r -a CASE_ARR <<< "$CASES"
  for i in "${!CASE_ARR[@]}"; do
    c=${CASE_ARR[$i]}
    if [ -z "${SRV_PID[${SERVER[$c]}]:-}" ]; then load_check "before $c"; fi
    start_server "${SERVER[$c]}"
    log "$c: warm-up $WARMUP"; measure "$c" warmup "$WARMUP"
    for k in "${RUN_LABELS[@]}"; do measure "$c" "$k" "$DURATION"; done
    later=0
    for j in "${!CASE_ARR[@]}"; do
      [ "$j" -gt "$i" ] && [ "${SERVER[${CASE_ARR[$j]}]}" = "${SERVER[$c]}" ] && later=1
    done
    [ "$later" = 1 ] || stop_server "${SERVER[$c]}"
  done
fi
load_check "after the last run"
T_END=$(date -u '+%Y-%m-%d %H:%M:%S')

# ---------------------------------------------------------------- report
declare -A M_RPS M_US
vals() { # array-name case -> the measured runs' values
  local -n arr=$1; local k
  for k in "${RUN_LABELS[@]}"; do echo "${arr[$2,$k]:-NA}"; done
}
for c in $CASES; do
  M_RPS[$c]=$(median $(vals R_RPS "$c"))
  M_US[$c]=$(median $(vals R_US "$c"))
done
median_cpu() { # case -> "m0/m1"
  local k a=() b=()
  for k in "${RUN_LABELS[@]}"; do a+=("${R_CPU[$1,$k]%/*}"); b+=("${R_CPU[$1,$k]#*/}"); done
  echo "$(fmt 0 "$(median "${a[@]}")")/$(fmt 0 "$(median "${b[@]}")")"
}
per_run() { # case -> "a / b / c" req/s
  local k out=""
  for k in "${RUN_LABELS[@]}"; do out="$out${out:+ / }$(fmt 0 "${R_RPS[$1,$k]}")"; done
  echo "$out"
}
errs_of() { # case -> distinct error strings of the measured runs
  local k; for k in "${RUN_LABELS[@]}"; do echo "${R_ERR[$1,$k]}"; done | sort -u | paste -sd';'
}
paired() { # case -> per-run req/s ratios to nginx "a / b / c" (interleaved: same round)
  local k out=""
  for k in "${RUN_LABELS[@]}"; do out="$out${out:+ / }$(fmt 2 "$(ratio "${R_RPS[$1,$k]}" "${R_RPS[nginx,$k]}")")"; done
  echo "$out"
}

REPORT=$OUT/results.md
{
  echo "## shopd vs nginx vs Express (wrk -t1 -c$CONNS -d$DURATION --latency, keep-alive, 127.0.0.1, pinned)"
  echo
  echo "Server on CPU 0 (\`taskset -c 0\`), wrk on CPU 1 (\`taskset -c 1\`); $WARMUP warm-up, then $RUNS run(s) per case, median of each metric;"
  echo "order: $ORDER. \"server µs CPU/request\" = cpu0 busy share × interval / requests (everything on CPU 0, kernel included)."
  echo
  echo "| case | server | req/s (median) | p50 ms | p99 ms | cpu0/cpu1 busy % | server µs CPU/request | ratio to nginx (req/s) | ratio to nginx (CPU/request, nginx÷shopd) | req/s per run | server process µs CPU/request | errors |"
  echo "|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---|"
  for c in $CASES; do
    r_rps=NA; r_cpu=NA
    if has_case nginx; then
      r_rps=$(ratio "${M_RPS[$c]}" "${M_RPS[nginx]}")
      r_cpu=$(ratio "${M_US[nginx]}" "${M_US[$c]}")
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "${LABEL[$c]}" "${DESC[${SERVER[$c]}]}" "$(fmt 0 "${M_RPS[$c]}")" \
      "$(fmt 2 "$(median $(vals R_P50 "$c"))")" "$(fmt 2 "$(median $(vals R_P99 "$c"))")" \
      "$(median_cpu "$c")" "$(fmt 2 "${M_US[$c]}")" "$(fmt 2 "$r_rps")" "$(fmt 2 "$r_cpu")" \
      "$(per_run "$c")" "$(fmt 2 "$(median $(vals R_PUS "$c"))")" "$(errs_of "$c")"
  done
  echo
  echo "Targets (issue):"
  echo
  target_rps() { # case factor label
    local c=$1 f=$2 what=$3 verdict r e
    if ! has_case "$c" || ! has_case nginx; then echo "- $what >= ${f}x nginx req/s: not measured (needs cases nginx and $c)"; return; fi
    r=$(ratio "${M_RPS[$c]}" "${M_RPS[nginx]}")
    e=$(errs_of "$c")
    verdict=$(awk -v r="$r" -v f="$f" 'BEGIN{ print (r!="NA" && r+0 >= f+0) ? "PASS" : "FAIL" }')
    [ "$e" = 0 ] || verdict="FAIL (errors: $e)"
    echo "- $what >= ${f}x nginx req/s: $(fmt 2 "$r")x ($(fmt 0 "${M_RPS[$c]}") vs $(fmt 0 "${M_RPS[nginx]}") req/s; per run: $(paired "$c"); CPU/request nginx÷shopd $(fmt 2 "$(ratio "${M_US[nginx]}" "${M_US[$c]}")")) -> **$verdict**"
  }
  target_rps shopd-health 0.8 "shopd GET /health"
  target_rps shopd-me 0.5 "shopd GET /v1/users/me"
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
    echo "- shopd p99 < 2 ms at 64 connections: $p99s -> **$p99v**$note"
  fi
  echo
  echo "## Notes"
  echo
  if has_case nginx; then
    c1=$(median_cpu nginx); c1=${c1#*/}
    if [ "$c1" != NA ] && [ "$c1" -ge 95 ]; then
      echo "- wrk used ${c1}% of CPU 1 against nginx: that row is client-bound, so a req/s ratio near 1.0 means"
      echo "  \"as fast as this client\", not \"as cheap as nginx\"; the CPU/request columns do not have that ceiling."
    fi
  fi
  for c in $CASES; do
    [ "${SERVER[$c]}" = shopd ] && [ "$ACCESS_LOG" = true ] || continue
    line="- $c access log lines written per run / wrk requests:"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_LOG[$c,$k]:-NA}/${R_REQ[$c,$k]:-NA}"; done
    line="$line; lines dropped by shopd (shopd_access_log_dropped_lines_total):"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_DROP[$c,$k]:-NA}"; done
    echo "$line"
  done
  echo "- \"server process µs CPU/request\" = utime+stime of the server's processes / requests. When it is well below the"
  echo "  cpu0 figure, something else ran on CPU 0 (other processes: see the load checks) or the kernel kept softirq time apart."
  echo "- per run cpu0/cpu1 busy %:"
  for c in $CASES; do
    line="  - $c:"
    for k in "${RUN_LABELS[@]}"; do line="$line ${R_CPU[$c,$k]}"; done
    echo "$line"
  done
  echo "- ratios compare figures from this run only (see peers/RESULTS.md: the client limit moves between runs and days)."
  cat "$NOTES"
  echo
  echo "## Setup"
  echo
  echo "- run: $T_START - $T_END UTC; raw output: bench/out/$STAMP/"
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
  if needs_shopd; then
    echo "- shopd $("$SHOPD" --version 2>/dev/null | head -1) ($SHOPD), git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' + uncommitted changes'); --threads 1, --access-log $ACCESS_LOG (to a file), db-threads default"
  fi
  echo "- $("$NGINX_BIN" -v 2>&1 | sed 's/nginx version: //'); node $(node -v)$(has_case express && echo "; express $(node -p "require('$PEERS_CACHE/node/node_modules/express/package.json').version")"); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  echo "- wrk: -t1 -c$CONNS -d$DURATION --latency after a $WARMUP warm-up; $RUNS run(s) per case; ports nginx $NGINX_PORT, express $EXPRESS_PORT, shopd $SHOPD_PORT"
} > "$REPORT"
cat "$REPORT"

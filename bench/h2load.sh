#!/usr/bin/env bash
# The h2load rows of the suite (issue 12): the server's own per-call cost, measured by a
# load generator lighter than ours (h2load, Debian's nghttp2-client), beside the floor
# (bench's bare tonic echo, same request bytes) and, when ../shared/seed-app is at hand,
# the tutorial's FastAPI app. Everything on 127.0.0.1.
#
#   bench/h2load.sh [--secs 8] [--rounds 3] [--postgres-url URL|none]
#
# H2LOAD_TODO_ENV="DATABASE_MAX_CONNECTIONS=2 RUST_LOG=warn" adds settings to the
# todo-services, for experiments (what a setting costs or saves).
# --before DIR adds a SQLite pair whose todo-service is DIR/todo-service (an older build:
# `cp target/release/todo-service DIR` before the change), with its GetTodo and ListTodos
# rows interleaved with the others: a before/after measured side by side in one run.
# --rows REGEX keeps only the rows whose label matches (grep -E), for profiling one.
#
# Needs the release binaries (bench/run.sh builds them; or `cargo build --release
# --workspace --bins`), h2load, python3, grpcurl (scripts/install-grpcurl.sh .tools/bin).
# Rows run in rounds, alternating, after a 1 s warm-up each; each figure is the median
# of the rounds. h2load counts HTTP/2 answers, not gRPC statuses, so every row is also
# checked against the service's own count of OK calls (METRICS_ADDR): a row whose calls
# failed says so instead of reporting their rate. Prints a Markdown table, and which
# rows were skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-target}
bin=${BIN_DIR:-$target/release}
secs=8
rounds=3
pg_url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --postgres-url) pg_url=$2; shift 2 ;;
    --before) before_bin=$2; shift 2 ;;
    --rows) only_rows=$2; shift 2 ;;
    *) echo "h2load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

skipped=()
command -v h2load >/dev/null || { echo "h2load.sh: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }
for b in auth-service todo-service echo; do
  [ -x "$bin/$b" ] || { echo "h2load.sh: $bin/$b is missing (cargo build --release --workspace --bins)" >&2; exit 1; }
done
grpcurl=$root/.tools/bin/grpcurl
[ -x "$grpcurl" ] || scripts/install-grpcurl.sh .tools/bin >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The tutorial's app may be wedged past SIGTERM (its README says so).
  [ -n "${seed_port:-}" ] && pkill -9 -f "uvicorn main:app --host 127.0.0.1 --port $seed_port" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${pg_dbs:-}" ]; then
    for db in $pg_dbs; do psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
# A free loopback port, for the tutorial's app only (serve.sh takes a port number; our
# services bind port 0 and say where in their ready line).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME BINARY ENV...: starts a service on port 0; its address in $started, its
# metrics address (METRICS_ADDR=127.0.0.1:0) in $started_metrics, its pid in $started_pid.
# (Not called in $(...): the pid must reach `pids` in this shell, for the cleanup.)
start() {
  local name=$1 binary=$2; shift 2
  env -i PATH="$PATH" LISTEN_ADDR=127.0.0.1:0 JWT_SECRET="$secret" "$@" "${start_bin:-$bin}/$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
  started_pid=$!
  for _ in $(seq 100); do
    started=$(sed -n 's/.* ready addr=\([0-9.:]*\).*/\1/p' "$work/$name.log" | head -1)
    started_metrics=$(sed -n 's/.* ready .*metrics_addr=\([0-9.:]*\).*/\1/p' "$work/$name.log" | head -1)
    [ -n "$started" ] && return
    sleep 0.1
  done
  echo "h2load.sh: $name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}

rpc() { "$grpcurl" -plaintext -max-time 10 "$@"; }

# A gRPC frame (uncompressed) of the protobuf bytes given as hex, into a file.
frame() { python3 -c 'import sys; b=bytes.fromhex(sys.argv[1]); sys.stdout.buffer.write(b"\0"+len(b).to_bytes(4,"big")+b)' "$1" >"$2"; }
hex_string_field() { python3 -c 'import sys; s=sys.argv[2].encode(); print(("%02x" % (int(sys.argv[1])<<3|2)) + ("%02x" % len(s)) + s.hex())' "$1" "$2"; }

# cpu_ticks PID: user plus system CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ok_count METRICS_ADDR METHOD: the service's count of OK calls of METHOD so far.
ok_count() {
  curl -s "http://$1/metrics" | awk -v m="method=\"$2\"" 'index($0, "grpc_server_handled_total{") == 1 && index($0, m) && index($0, "code=\"OK\"") {n += $NF} END {printf "%d", n}'
}

# codes METRICS_ADDR METHOD: the service's counts of METHOD by status code.
codes() {
  curl -s "http://$1/metrics" | awk -v m="method=\"$2\"" 'index($0, "grpc_server_handled_total{") == 1 && index($0, m) {
    match($0, /code="[A-Z_]*"/); printf "%s=%d ", substr($0, RSTART + 6, RLENGTH - 7), $NF}'
}

# setup LABEL DATABASE_URL: the pair on that database, a user with 20 todos; sets
# TODO_ADDR, METRICS, TOKEN and the request files under $work/LABEL.
setup() {
  local label=$1 auth_db=$2 todo_db=$3
  start "$label-auth" auth-service DATABASE_URL="$auth_db"
  local auth=$started
  # shellcheck disable=SC2086
  start_bin=${4:-$bin} start "$label-todo" todo-service DATABASE_URL="$todo_db" AUTH_SERVICE_URL="http://$auth" \
    METRICS_ADDR=127.0.0.1:0 MAX_TODO_CREATES_PER_MINUTE=60000000 MAX_TODOS_PER_USER=100000000 \
    ${H2LOAD_TODO_ENV:-}
  local todo=$started metrics=$started_metrics todo_pid=$started_pid
  [ -n "$metrics" ] || { echo "h2load.sh: the todo-service did not say where its metrics are" >&2; exit 1; }
  rpc -d '{"username":"bench","password":"a benchmark password"}' "$auth" auth.v1.AuthService/Register >/dev/null
  local token
  token=$(rpc -d '{"username":"bench","password":"a benchmark password"}' "$auth" auth.v1.AuthService/Login \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
  local id=""
  for n in $(seq 20); do
    id=$(rpc -H "authorization: Bearer $token" -d "{\"title\":\"todo $n\",\"description\":\"a benchmark todo\"}" \
      "$todo" todo.v1.TodoService/CreateTodo | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  done
  mkdir -p "$work/$label"
  frame "$(hex_string_field 1 "$id")" "$work/$label/get.bin"
  frame "0814" "$work/$label/list.bin"                      # page_size = 20
  frame "$(hex_string_field 1 "a new todo")" "$work/$label/create.bin"
  eval "${label}_addr=$todo ${label}_metrics=$metrics ${label}_token=$token ${label}_pid=$todo_pid"
}

echo "h2load: starting the floor and the pair..." >&2
# start_echo MODE: bench's echo server (bare: the floor; shell: behind the real
# authentication layer and server shell, logging as the services do); its address in
# $started.
start_echo() {
  local log=$work/echo-$1.log
  env -i PATH="$PATH" "$bin/echo" --mode "$1" --jwt-secret "$secret" --listen-addr 127.0.0.1:0 >"$log" 2>&1 &
  pids+=($!)
  started_pid=$!
  for _ in $(seq 100); do
    started=$(sed -n 's/^echo ([A-Za-z]*) on \([0-9.:]*\).*/\1/p' "$log" | head -1)
    [ -n "$started" ] && return
    sleep 0.1
  done
  echo "h2load.sh: the echo server ($1) did not start" >&2; cat "$log" >&2; exit 1
}
start_echo bare
floor_addr=$started floor_pid=$started_pid
start_echo shell
shell_addr=$started shell_pid=$started_pid

setup sqlite "sqlite://$work/auth.db" "sqlite://$work/todo.db"
# The shell's rows are only meaningful if its calls succeed with the pair's token (the
# echo has no metrics to check them by): one call first.
rpc -H "authorization: Bearer $sqlite_token" -d '{"id":"00000000-0000-7000-8000-000000000000"}' \
  "$shell_addr" todo.v1.TodoService/GetTodo >/dev/null \
  || { echo "h2load.sh: the echo behind the server shell refused the token" >&2; exit 1; }
backends=(sqlite)
if [ -n "${before_bin:-}" ]; then
  [ -x "$before_bin/todo-service" ] || { echo "h2load.sh: $before_bin/todo-service is missing" >&2; exit 1; }
  setup before "sqlite://$work/auth-before.db" "sqlite://$work/todo-before.db" "$before_bin"
fi
if [ "$pg_url" != none ] && command -v psql >/dev/null && psql -q "$pg_url" -c 'SELECT 1' >/dev/null 2>&1; then
  pg_dbs="bench_h2_auth_$$ bench_h2_todo_$$"
  for db in $pg_dbs; do psql -q "$pg_url" -c "CREATE DATABASE $db" >/dev/null; done
  base=${pg_url%/*}
  setup postgres "$base/bench_h2_auth_$$" "$base/bench_h2_todo_$$"
  backends+=(postgres)
else
  skipped+=("PostgreSQL rows: no PostgreSQL at $pg_url")
fi

seed_url=""
seed_app=$root/../shared/seed-app/serve.sh
if [ -x "$seed_app" ]; then
  seed_port=$(port)
  "$seed_app" "$seed_port" 20 >"$work/seed.out" 2>"$work/seed.err" &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q 'SEED_TOKEN=' "$work/seed.out" 2>/dev/null && break
    sleep 0.5
  done
  # One line: SEED_URL=... SEED_TOKEN=...
  seed_url=$(grep -o 'SEED_URL=[^ ]*' "$work/seed.out" | cut -d= -f2-)
  seed_token=$(grep -o 'SEED_TOKEN=[^ ]*' "$work/seed.out" | cut -d= -f2-)
  [ -n "$seed_url" ] || { skipped+=("the tutorial's app: serve.sh did not start ($(tail -1 "$work/seed.err"))"); seed_url=""; }
else
  skipped+=("the tutorial's app: $seed_app is not at hand")
fi

# Rows: LABEL|TARGET|METHOD|FLAGS. TARGET: floor, sqlite, postgres or seed.
rows=(
  "floor GetTodo, 16x4|floor|GetTodo|-c 16 -m 4"
  "floor ListTodos (20), 10x1|floor|ListTodos|-c 10 -m 1"
  "echo + authentication + server shell, GetTodo 16x4|shell|GetTodo|-c 16 -m 4"
)
if [ -n "${before_bin:-}" ]; then
  rows+=(
    "GetTodo sqlite (before), 16x4|before|GetTodo|-c 16 -m 4"
    "ListTodos (20) sqlite (before), 10x1|before|ListTodos|-c 10 -m 1"
  )
fi
for b in "${backends[@]}"; do
  rows+=(
    "GetTodo $b, 16x4|$b|GetTodo|-c 16 -m 4"
    "GetTodo $b, 64x1|$b|GetTodo|-c 64 -m 1"
    "GetTodo $b, 256x1|$b|GetTodo|-c 256 -m 1"
    "ListTodos (20) $b, 10x1|$b|ListTodos|-c 10 -m 1"
    "ListTodos (20) $b, 64x1|$b|ListTodos|-c 64 -m 1"
    "ListTodos (20) $b, 256x1|$b|ListTodos|-c 256 -m 1"
    "CreateTodo $b, 16x4|$b|CreateTodo|-c 16 -m 4"
  )
done
if [ -n "$seed_url" ]; then
  rows+=(
    "the tutorial's GET /todos/ (20), h1 10x1|seed|list|-c 10 -m 1"
    "the tutorial's GET /todos/ (20), h1 64x1|seed|list|-c 64 -m 1"
  )
fi

if [ -n "${only_rows:-}" ]; then
  kept=()
  for row in "${rows[@]}"; do
    if grep -qE -- "$only_rows" <<<"${row%%|*}"; then kept+=("$row"); else skipped+=("${row%%|*}: not in --rows"); fi
  done
  rows=("${kept[@]}")
fi

# run ROW: one measurement on stdout: req/s of answered calls and the server's CPU µs
# per call (the tutorial's app: req/s only), or FAIL: why.
run() {
  IFS='|' read -r _ where method flags <<<"$1"
  local out
  if [ "$where" = seed ]; then
    # shellcheck disable=SC2086
    out=$(timeout $((secs + 30)) h2load --h1 --warm-up-time 1 -D "$secs" $flags -t 1 \
      -H "authorization: Bearer $seed_token" "$seed_url/todos/" 2>&1) || true
    echo "$out" | awk '/^finished in/ {gsub(",", "", $4); r=$4} /^requests:/ {ok=$8} END {if (ok+0 == 0) print "0 (none answered)"; else print r}'
    return
  fi
  local addr token="" file
  if [ "$where" = floor ] || [ "$where" = shell ]; then
    [ "$where" = shell ] && token=$sqlite_token
    eval "addr=\$${where}_addr"
    file=$work/sqlite/$( [ "$method" = GetTodo ] && echo get || echo list ).bin
  else
    eval "addr=\$${where}_addr token=\$${where}_token"
    case $method in GetTodo) file=get ;; ListTodos) file=list ;; CreateTodo) file=create ;; esac
    file=$work/$where/$file.bin
  fi
  local before=0
  [ "$where" != floor ] && [ "$where" != shell ] && before=$(eval ok_count "\$${where}_metrics" "$method")
  # The server's CPU time over the measured window (after h2load's 1 s warm-up), per
  # call: steadier than calls per second on a machine whose runs spread widely.
  local pid ticks0 ticks1
  eval "pid=\$${where}_pid"
  # shellcheck disable=SC2086
  h2load --warm-up-time 1 -D "$secs" $flags -t 1 -d "$file" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $token" \
    "http://$addr/todo.v1.TodoService/$method" >"$work/h2load.out" 2>&1 &
  local load=$!
  sleep 1
  ticks0=$(cpu_ticks "$pid")
  wait "$load" || true
  ticks1=$(cpu_ticks "$pid")
  out=$(cat "$work/h2load.out")
  local rate done_
  rate=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); print $4}')
  done_=$(echo "$out" | awk '/^requests:/ {print $8}')
  if [ "$where" != floor ] && [ "$where" != shell ]; then
    local after
    after=$(eval ok_count "\$${where}_metrics" "$method")
    # The warm-up's calls are answered too: at least the measured ones must be OK.
    if [ $((after - before)) -lt "${done_:-0}" ]; then
      echo "FAIL: $((after - before)) OK of ${done_:-0} answered ($(eval codes "\$${where}_metrics" "$method"))"
      return
    fi
  fi
  [ -n "$rate" ] || { echo "FAIL: $(echo "$out" | tail -1)"; return; }
  echo "$rate $(awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="${done_:-0}" 'BEGIN {if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-"}')"
}

declare -A results cpu
for round in $(seq "$rounds"); do
  echo "h2load: round $round of $rounds" >&2
  for row in "${rows[@]}"; do
    r=$(run "$row")
    if [[ "$r" =~ ^[0-9.]+\ ([0-9.]+|-)$ ]]; then
      results[$row]+="${r%% *};"
      cpu[$row]+="${r#* };"
    else
      results[$row]+="$r;"
    fi
  done
done

median() { tr ';' '\n' <<<"$1" | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$0} END {if (NR == 0) print "-"; else print a[int((NR+1)/2)]}'; }
fmt() { awk -v x="$1" 'BEGIN {if (x ~ /^[0-9.]+$/) printf "%\047.0f", x; else print x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2fx", a / b; else print "-"}'; }

floor_get=$(median "${results["floor GetTodo, 16x4|floor|GetTodo|-c 16 -m 4"]:-}")
floor_list=$(median "${results["floor ListTodos (20), 10x1|floor|ListTodos|-c 10 -m 1"]:-}")
floor_get_cpu=$(median "${cpu["floor GetTodo, 16x4|floor|GetTodo|-c 16 -m 4"]:-}")
floor_list_cpu=$(median "${cpu["floor ListTodos (20), 10x1|floor|ListTodos|-c 10 -m 1"]:-}")
seed10=""
[ -n "$seed_url" ] && seed10=$(median "${results["the tutorial's GET /todos/ (20), h1 10x1|seed|list|-c 10 -m 1"]:-}")

echo
echo "### h2load: calls per second (medians of $rounds rounds of ${secs} s, 1 s warm-up)"
echo
echo "| call | req/s | vs floor | vs the tutorial's app (10 connections) | server CPU µs/call | floor's CPU ÷ this |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for row in "${rows[@]}"; do
  IFS='|' read -r label where method _ <<<"$row"
  m=$(median "${results[$row]}")
  if [[ "$m" != [0-9]* ]]; then m=$(tr ';' '\n' <<<"${results[$row]}" | grep -v '^[0-9]' | head -1); fi
  vs_floor="-"; vs_seed="-"; c=$(median "${cpu[$row]:-}"); cpu_vs="-"
  case $where in
    sqlite|postgres|before|shell)
      [ "$method" = GetTodo ] && vs_floor=$(ratio "$m" "$floor_get") && cpu_vs=$(ratio "$floor_get_cpu" "$c")
      [ "$method" = ListTodos ] && vs_floor=$(ratio "$m" "$floor_list") && cpu_vs=$(ratio "$floor_list_cpu" "$c")
      [ "$method" = ListTodos ] && [ -n "$seed10" ] && vs_seed=$(ratio "$m" "$seed10")
      ;;
  esac
  echo "| $label | $(fmt "$m") | $vs_floor | $vs_seed | $c | $cpu_vs |"
done
echo
echo "Machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) after the run; h2load $(h2load --version 2>&1 | head -1 | awk '{print $NF}')."
for s in "${skipped[@]}"; do echo "Skipped: $s."; done
# Resident memory of each todo-service: now, and its peak over the run (VmHWM); now
# split into heap and stacks (anonymous) and the binary's pages in memory (file).
for p in $(pgrep -f "/todo-service$" || true); do
  db=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^DATABASE_URL=//p' | sed 's|.*/||')
  awk -v db="$db" '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "todo-service on %s: resident %.1f MB (anonymous %.1f, file %.1f), peak %.1f MB\n", db, r/1024, a/1024, f/1024, h/1024}' "/proc/$p/status" 2>/dev/null || true
done

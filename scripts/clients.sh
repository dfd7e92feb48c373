#!/usr/bin/env bash
# Drives a freshly started all-in-one pair with the clients people use: the three
# examples (Rust/tonic, Python/grpcio, Node/grpc-js), buf curl over reflection (gRPC and
# gRPC-Web) and grpcurl's -format-error. Fails on any failure; ends with a
# "clients: N passed, M failed" line.
# Needs: built target/debug/all-in-one and target/debug/todo-grpc-example
# (`cargo build --workspace --bins`), grpcurl in .tools/bin (scripts/install-grpcurl.sh),
# jq, node 20+, python3. Installs (idempotent, all ignored by git): buf into .tools/buf,
# a venv into .tools/venv, examples/node/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/bin:$PATH"
BUF_VERSION=1.75.0

for bin in target/debug/all-in-one target/debug/todo-grpc-example; do
  [ -x "$bin" ] || { echo "clients: $bin is missing; run cargo build --workspace --bins" >&2; exit 1; }
done

# Installs, each skipped when already in place.
buf="$root/.tools/buf/node_modules/.bin/buf"
if [ "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  npm install --silent --no-audit --no-fund --prefix "$root/.tools/buf" "@bufbuild/buf@$BUF_VERSION"
fi
examples/python/build.sh >/dev/null
if [ ! -d examples/node/node_modules/@grpc/grpc-js ] \
  || [ examples/node/package-lock.json -nt examples/node/node_modules/.package-lock.json ]; then
  (cd examples/node && npm ci --silent --no-audit --no-fund)
fi

# The pair, on free ports chosen by the kernel, with a data folder of its own.
data=$(mktemp -d)
log="$data/all-in-one.log"
DATA_DIR="$data" AUTH_LISTEN_ADDR=127.0.0.1:0 TODO_LISTEN_ADDR=127.0.0.1:0 RUST_LOG=warn \
  target/debug/all-in-one >"$log" 2>&1 &
pid=$!
cleanup() { kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

auth="" todo=""
for _ in $(seq 1 100); do
  auth=$(awk '$1 == "auth-service" {print $2}' "$log")
  todo=$(awk '$1 == "todo-service" {print $2}' "$log")
  if [ -n "$auth" ] && [ -n "$todo" ] \
    && grpcurl -plaintext "$auth" grpc.health.v1.Health/Check >/dev/null 2>&1 \
    && grpcurl -plaintext "$todo" grpc.health.v1.Health/Check >/dev/null 2>&1; then
    break
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "clients: all-in-one exited" >&2; exit 1; }
  sleep 0.2
done
echo "clients: pair at auth $auth, todo $todo"

passed=0 failed=0
check() {
  local name=$1
  shift
  local out="$data/$name.out"
  # In the background, so that errexit holds inside the step (an `if` would turn it off).
  (set -e; "$@") >"$out" 2>&1 &
  if wait $!; then
    passed=$((passed + 1))
    echo "clients: $name ok"
  else
    failed=$((failed + 1))
    echo "clients: $name FAILED"
    sed 's/^/    /' "$out"
  fi
}

# buf curl over reflection: every method on both ports, then register, log in, create
# and list, once over gRPC (HTTP/2) and once over gRPC-Web (HTTP/1.1).
buf_walkthrough() {
  local protocol=$1 h2=()
  [ "$protocol" = grpc ] && h2=(--http2-prior-knowledge)
  local curl=("$buf" curl --protocol "$protocol" "${h2[@]}")
  for addr in "$auth" "$todo"; do
    "${curl[@]}" --list-methods "http://$addr" | tee "$data/methods"
    grep -qx 'grpc.health.v1.Health/Check' "$data/methods"
  done
  grep -qx 'todo.v1.TodoService/ListTodos' "$data/methods"
  local user="buf_${protocol}_$RANDOM" password='correct horse battery'
  "${curl[@]}" -d "{\"username\":\"$user\",\"password\":\"$password\"}" "http://$auth/auth.v1.AuthService/Register"
  local token
  token=$("${curl[@]}" -d "{\"username\":\"$user\",\"password\":\"$password\"}" \
    "http://$auth/auth.v1.AuthService/Login" | jq -er .accessToken)
  "${curl[@]}" -H "authorization: Bearer $token" -d '{"title":"buy milk"}' \
    "http://$todo/todo.v1.TodoService/CreateTodo"
  "${curl[@]}" -H "authorization: Bearer $token" -d '{"page_size":10}' \
    "http://$todo/todo.v1.TodoService/ListTodos" | tee "$data/list"
  jq -e '.todos[0].title == "buy milk"' "$data/list" >/dev/null
}

# grpcurl decodes the error details through reflection: the field violation by name.
grpcurl_format_error() {
  local user="grpcurl_$RANDOM" password='correct horse battery' token out
  grpcurl -plaintext -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$auth" auth.v1.AuthService/Register
  token=$(grpcurl -plaintext -d "{\"username\":\"$user\",\"password\":\"$password\"}" \
    "$auth" auth.v1.AuthService/Login | jq -er .accessToken)
  out=$(grpcurl -plaintext -format-error -H "authorization: Bearer $token" -d '{"title":""}' \
    "$todo" todo.v1.TodoService/CreateTodo 2>&1) && { echo "an empty title was accepted"; return 1; }
  echo "$out"
  echo "$out" | grep -q '"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":\[{"field":"title"'
}

check rust-example target/debug/todo-grpc-example --auth "$auth" --todo "$todo"
check python-example .tools/venv/bin/python examples/python/client.py --auth "$auth" --todo "$todo"
check node-example node examples/node/client.js --auth "$auth" --todo "$todo"
check buf-curl-grpc buf_walkthrough grpc
check buf-curl-grpcweb buf_walkthrough grpcweb
check grpcurl-format-error grpcurl_format_error

echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

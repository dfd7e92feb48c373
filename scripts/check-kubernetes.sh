#!/usr/bin/env bash
# Checks deploy/kubernetes without a cluster: renders the base and every overlay with
# deploy/kubernetes/render.py, validates each rendered manifest (and what secrets.sh
# prints) against the Kubernetes 1.34 OpenAPI schemas in strict mode (PyPI
# kubernetes-validate, pinned, in a venv under .tools/), and checks that every
# environment variable the manifests set is one the binaries accept (their --help), that
# probes, grace periods, security contexts, PDBs, HPAs and headless Services are there.
# Needs the debug binaries (cargo build). Ends with `kubernetes: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin_dir=$(realpath "${COMPOSE_CHECK_BIN_DIR:-target/debug}")
venv=.tools/k8s-venv
k8s_version=1.34.0
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.34.1" "PyYAML==6.0.3"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bin in auth-service todo-service; do
  [ -x "$bin_dir/$bin" ] || { echo "check-kubernetes: no $bin_dir/$bin: cargo build --workspace" >&2; exit 1; }
  "$bin_dir/$bin" --help >"$tmp/$bin.help"
done
deploy/kubernetes/secrets.sh >"$tmp/secrets.yaml"
"$venv/bin/python" - "$root" "$tmp" "$venv/bin/kubernetes-validate" "$k8s_version" <<'PY'
import os, re, subprocess, sys
import yaml

root, tmp, validate, version = sys.argv[1:5]
sys.path.insert(0, os.path.join(root, "deploy/kubernetes"))
import render  # noqa: E402

passed = failed = 0


def check(cond, msg, why=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {msg}")
    else:
        failed += 1
        print(f"FAIL {msg}: {why}" if why else f"FAIL {msg}")
    return cond


def duration(s):
    m = re.fullmatch(r"(\d+)(s|m)?", str(s))
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1) if m else None


accepts = {}
for binary in ("auth-service", "todo-service"):
    names = {"RUST_LOG", "LOG_FORMAT"}  # read by the logging set-up, not clap
    names |= set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", open(os.path.join(tmp, f"{binary}.help")).read()))
    accepts[binary] = names

base = os.path.join(root, "deploy/kubernetes")
targets = ["base"] + [f"overlays/{o}" for o in sorted(os.listdir(os.path.join(base, "overlays")))]
for target in targets:
    try:
        docs = render.render(os.path.join(base, target))
    except SystemExit as e:
        check(False, f"{target} renders", str(e))
        continue
    out = os.path.join(tmp, target.replace("/", "_") + ".yaml")
    with open(out, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    r = subprocess.run([validate, "--strict", "-k", version, out], capture_output=True, text=True)
    bad = [l for l in r.stdout.splitlines() if "did not validate" in l or "ERROR" in l or "Error" in l]
    check(r.returncode == 0 and not bad, f"{target}: {len(docs)} manifests validate against Kubernetes {version} (strict)",
          (r.stdout + r.stderr).strip()[-1500:])
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    for name, dep in by_kind.get("Deployment", {}).items():
        spec = dep["spec"]["template"]["spec"]
        c = spec["containers"][0]
        binary = c["image"].split("/")[-1].split(":")[0]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        unknown = sorted(set(env) - accepts.get(binary, set()))
        check(binary in accepts and not unknown, f"{target}/{name}: every env variable is one {binary} accepts",
              f"unknown: {unknown}")
        grace = duration(env.get("SHUTDOWN_GRACE", "10s"))
        pause = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        check(pause > 0 and spec.get("terminationGracePeriodSeconds", 30) > grace + pause,
              f"{target}/{name}: terminationGracePeriodSeconds > SHUTDOWN_GRACE + preStop sleep",
              f"{spec.get('terminationGracePeriodSeconds')} vs {grace} + {pause}")
        ready = c.get("readinessProbe", {}).get("grpc", {}).get("port")
        health = env.get("HEALTH_ADDR", "")
        check(ready is not None and health.endswith(f":{ready}"),
              f"{target}/{name}: gRPC readiness probe on the plaintext health port (HEALTH_ADDR)", f"{ready} vs {health}")
        check("tcpSocket" in c.get("livenessProbe", {}), f"{target}/{name}: TCP liveness probe")
        sc, psc = c.get("securityContext", {}), spec.get("securityContext", {})
        check(psc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False,
              f"{target}/{name}: non-root, read-only root filesystem, no privilege escalation")
        res = c.get("resources", {})
        check("requests" in res and "limits" in res and "memory" in res["limits"], f"{target}/{name}: resource requests and limits")
        check(name in by_kind.get("PodDisruptionBudget", {}), f"{target}/{name}: a PodDisruptionBudget")
        check(name in by_kind.get("HorizontalPodAutoscaler", {}), f"{target}/{name}: a HorizontalPodAutoscaler")
        svc = by_kind.get("Service", {}).get(name, {})
        check(svc.get("spec", {}).get("clusterIP") == "None", f"{target}/{name}: a headless Service")
        literal = sorted(k for k, v in env.items() if re.search("SECRET|PASSWORD", k) and v and not k.endswith("_FILE"))
        check(not literal, f"{target}/{name}: no secret value in the manifest", f"{literal}")
r = subprocess.run([validate, "--strict", "-k", version, os.path.join(tmp, "secrets.yaml")], capture_output=True, text=True)
check(r.returncode == 0, "secrets.sh prints valid Secrets", (r.stdout + r.stderr).strip()[-800:])
print(f"kubernetes: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY

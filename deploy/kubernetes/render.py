#!/usr/bin/env python3
"""Renders a kustomization without kubectl: resources (files and directories with a
kustomization.yaml), namespace, images (newName/newTag) and JSON 6902 patches with a
kind/name target. Any other key is refused, so nothing is silently left out of what
`kubectl kustomize` would produce. Usage: render.py DIR > rendered.yaml
"""
import os
import sys

import yaml

KNOWN = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass"}


def pointer(path):
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def apply_op(doc, op):
    *parents, last = pointer(op["path"])
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    kind = op["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, op["value"])
        elif kind == "replace":
            node[index] = op["value"]
        elif kind == "remove":
            del node[index]
        else:
            raise SystemExit(f"unsupported patch op {kind}")
    else:
        if kind in ("add", "replace"):
            if kind == "replace" and last not in node:
                raise SystemExit(f"replace of a missing path {op['path']}")
            node[last] = op["value"]
        elif kind == "remove":
            del node[last]
        else:
            raise SystemExit(f"unsupported patch op {kind}")


def render(directory):
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN
    if unknown:
        raise SystemExit(f"{directory}: render.py does not understand {sorted(unknown)}")
    docs = []
    for resource in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(path):
            docs.extend(render(path))
        else:
            with open(path) as f:
                docs.extend(d for d in yaml.safe_load_all(f) if d)
    for patch in k.get("patches", []):
        target = patch["target"]
        hits = [d for d in docs if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]]
        if len(hits) != 1:
            raise SystemExit(f"{directory}: patch target {target} matches {len(hits)} resources")
        for op in yaml.safe_load(patch["patch"]):
            apply_op(hits[0], op)
    images = {i["name"]: i for i in k.get("images", [])}
    for d in docs:
        if "namespace" in k and d["kind"] not in CLUSTER_SCOPED:
            d["metadata"]["namespace"] = k["namespace"]
        spec = d.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            name = c["image"].split(":")[0]
            if name in images:
                image = images[name]
                c["image"] = f"{image.get('newName', name)}:{image.get('newTag', 'latest')}"
    return docs


if __name__ == "__main__":
    yaml.safe_dump_all(render(sys.argv[1]), sys.stdout, sort_keys=False)

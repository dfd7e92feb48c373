#!/usr/bin/env python3
"""Checks that README.md's "Layout" block names every crate folder and every module of
the services, common, token, clock and testkit, so the map cannot drift from the tree.

A module is a `.rs` file under a crate's `src/` (not lib.rs, main.rs or mod.rs; a
folder module counts by its folder's name). Exits non-zero and lists what is missing.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
readme = (root / "README.md").read_text()
section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
block = section.split("```", 2)[1]
words = set(re.findall(r"[A-Za-z0-9_-]+", block))

crates = ["proto", "clock", "token", "common", "auth-service", "todo-service", "all-in-one",
          "testkit", "bench", "examples", "web", "fuzz", "deploy", "scripts"]
missing = [f"{c}/" for c in crates if c not in words]
for crate in ["common", "token", "clock", "auth-service", "todo-service", "testkit"]:
    for path in sorted((root / crate / "src").rglob("*.rs")):
        name = path.parent.name if path.stem == "mod" else path.stem
        if name in ("lib", "main") or name in words:
            continue
        missing.append(str(path.relative_to(root)))
if missing:
    print("README.md's Layout does not name:", *missing, sep="\n  ")
    sys.exit(1)
print("layout: README.md names every crate and module")

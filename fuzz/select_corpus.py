#!/usr/bin/env python3
"""Picks the corpus to keep in the repo from a libFuzzer merge control file.

    select_corpus.py CONTROL_FILE OUT_DIR MAX_FILES

CONTROL_FILE comes from a merge run with `-merge=1 -set_cover_merge=1 -use_counters=0
-merge_control_file=CONTROL_FILE`, in which libFuzzer records, for every input, every
coverage edge it reaches (the `FT` lines). A plain `cargo fuzz cmin` keeps every input
that adds a single edge, several hundred files for these targets; this keeps the
hand-made `seed-*` files, then greedily adds the input that reaches the most edges not
yet reached, until MAX_FILES or until nothing adds an edge. Files are copied to OUT_DIR
under their own names.
"""
import os
import shutil
import sys


def main():
    control, out, max_files = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lines = open(control).read().split("\n")
    count = int(lines[0])
    files = lines[2 : 2 + count]
    edges = {}
    for line in lines[2 + count :]:
        parts = line.split()
        if parts and parts[0] == "FT":
            edges[int(parts[1])] = set(parts[2:])
    total = set().union(*edges.values()) if edges else set()

    picked, reached, names = [], set(), set()

    def take(i):
        name = os.path.basename(files[i])
        if name in names:  # the same input in the repo corpus and the scratch one
            return
        names.add(name)
        picked.append(i)
        reached.update(edges.get(i, ()))

    for i, path in enumerate(files):
        if os.path.basename(path).startswith("seed-"):
            take(i)
    seeds = len(picked)
    while len(picked) < max_files:
        best = max(
            (i for i in edges if os.path.basename(files[i]) not in names),
            key=lambda i: len(edges[i] - reached),
            default=None,
        )
        if best is None or not edges[best] - reached:
            break
        take(best)

    os.makedirs(out, exist_ok=True)
    for i in picked:
        shutil.copy(files[i], os.path.join(out, os.path.basename(files[i])))
    print(
        f"kept {len(picked)} files ({seeds} seeds) reaching {len(reached)} of "
        f"{len(total)} edges reached by all {count} inputs"
    )


if __name__ == "__main__":
    main()

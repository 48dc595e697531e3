"""Runs `alphalab demo` on a fresh workspace and prints its wall time and peak memory (PSS summed over the demo's
process tree, sampled every 0.2 s: experiment subprocesses and the ephemeral Prefect server included).

    python bench/demo_footprint.py [--root /tmp/alphalab-demo-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def tree_pss_kib(root: int) -> int:
    parents: dict[int, int] = {}
    pss: dict[int, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(pid)] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            # PSS splits shared pages (torch's libraries, mapped by every experiment process) among their users,
            # so the sum is the memory the tree really holds; summed RSS counts those pages once per process
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss[int(pid)] = int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [p for p, pp in parents.items() if pp in frontier and p not in tree]
        tree.update(children)
        frontier = children
    return sum(pss.get(p, 0) for p in tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default="/tmp/alphalab-demo-bench")
    args = parser.parse_args()
    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    alphalab = Path(sys.executable).with_name("alphalab")
    cmd = [str(alphalab), "demo", "--workspace", str(root / "ts-demo"), "--data", str(root / "data")]
    start = time.monotonic()
    with open(root / "demo.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_pss_kib(proc.pid))
            time.sleep(0.2)
    wall = time.monotonic() - start
    print((root / "demo.log").read_text()[-3000:])
    print(f"exit code      {proc.returncode}")
    print(f"wall time      {wall:.0f} s")
    print(f"peak memory    {peak / 1024 / 1024:.2f} GiB (PSS summed over the demo's process tree)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

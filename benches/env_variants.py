"""Interleaved A/B of environment settings: toposcape under several settings, one process each.

Usage::

    python benches/env_variants.py --problem A --seeds 6 \\
        --variant spin1e4:GOMP_SPINCOUNT=10000 --variant spin1e5:GOMP_SPINCOUNT=100000 \\
        --variant control:GOMP_SPINCOUNT=10000 --reference /tmp/tfref/bin/python

Settings that a runtime reads once when it starts (OpenMP's wait policy and spin count, MKL's
and oneDNN's switches, glibc tunables) cannot be switched inside one process. This script
starts one persistent toposcape process per ``--variant NAME:VAR=VALUE[,VAR=VALUE...]`` (and,
with ``--reference``, the published method's ``benches/reference_tf.py --serve`` in that
interpreter), warms each up with a 10-evaluation run, then makes 300-evaluation L-BFGS runs
(model construction included, toposcape in its default configuration) seed by seed, rotating
the order of the processes between seeds so that a shared machine's drift hits every side
alike. Give the same setting twice under two names for a control: the spread between the two
is the noise floor.

Prints one row per seed (wall seconds and final loss of every process; with a reference, each
variant's speed-up) and, per variant, the median time and the ratio of medians against the
reference. ``--model pixel`` runs the pixel model instead of the CNN (no reference then).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cnn_compare import PROBLEM_CODES, REFERENCE_SCRIPT, _write_problem


def serve(problem_name: str, model: str) -> None:
    """Child mode: read ``seed evaluations`` lines, answer one JSON line per run."""
    import toposcape as ts

    problem = ts.problems.get(problem_name)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        seed, evals = map(int, line.split())
        start = time.perf_counter()
        if model == "pixel":
            obj = ts.PixelObjective(problem)
        else:
            obj = ts.CNNObjective(problem, seed=seed)
        traj = ts.optim.get("lbfgs").run(obj, max_evals=evals)
        seconds = time.perf_counter() - start
        out = {"seconds": seconds, "loss": float(traj.losses[-1]), "evals": traj.n_evals}
        print(json.dumps(out), flush=True)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, sep, assignments = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:VAR=VALUE[,VAR=VALUE], got {text!r}")
    env = {}
    for item in filter(None, assignments.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise argparse.ArgumentTypeError(f"expected VAR=VALUE in {text!r}, got {item!r}")
        env[key] = value
    return name, env


class Child:
    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.header = self._answer()

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"child failed:\n{self.process.stderr.read()[-3000:]}")
        return json.loads(line)

    def run(self, seed: int, evals: int) -> dict:
        self.process.stdin.write(f"{seed} {evals}\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="A", help="A, D or a suite problem's name")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evals", type=int, default=300)
    parser.add_argument("--model", choices=("cnn", "pixel"), default="cnn")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[])
    parser.add_argument("--reference", help="a Python with TensorFlow (see cnn_compare.py)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    problem_name = PROBLEM_CODES.get(args.problem, args.problem)
    if args.serve:
        serve(problem_name, args.model)
        return
    if not args.variant:
        parser.error("give at least one --variant NAME:VAR=VALUE[,VAR=VALUE]")
    names = [name for name, _ in args.variant]
    if len(set(names)) != len(names) or "reference" in names:
        parser.error("variant names must be distinct and not 'reference'")
    if args.reference and args.model != "cnn":
        parser.error("the reference runs the CNN only")

    children: dict[str, Child] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.reference:
                path = Path(tmp) / "problem.npz"
                _write_problem(path, problem_name)
                cmd = [args.reference, str(REFERENCE_SCRIPT), str(path), "--threads", "1"]
                children["reference"] = Child(cmd + ["--serve"], dict(os.environ))
            for name, env in args.variant:
                cmd = [sys.executable, __file__, "--serve", "--problem", problem_name]
                cmd += ["--model", args.model]
                children[name] = Child(cmd, {**os.environ, **env})
            for child in children.values():
                child.run(0, 10)
            order = list(children)
            print(f"\n### {problem_name}, {args.model}, L-BFGS, {args.evals} evaluations\n")
            print("| seed | " + " | ".join(f"{n} s (loss)" for n in order) + " |")
            print("|---" * (len(order) + 1) + "|")
            rows = []
            for seed in range(args.seeds):
                shift = seed % len(order)
                turn = order[shift:] + order[:shift]
                row = {name: children[name].run(seed, args.evals) for name in turn}
                rows.append(row)
                cells = [f"{row[n]['seconds']:.2f} ({row[n]['loss']:.3f})" for n in order]
                print(f"| {seed} | " + " | ".join(cells) + " |", flush=True)
        finally:
            for child in children.values():
                child.close()
    print("\n| variant | settings | median s | speed-up vs reference (ratio of medians) |")
    print("|---|---|---|---|")
    ref = np.median([r["reference"]["seconds"] for r in rows]) if args.reference else None
    for name, env in args.variant:
        median = float(np.median([r[name]["seconds"] for r in rows]))
        settings = ", ".join(f"{k}={v}" for k, v in env.items()) or "(inherited)"
        ratio = f"{ref / median:.2f}x" if ref is not None else "-"
        print(f"| {name} | {settings} | {median:.3f} | {ratio} |")


if __name__ == "__main__":
    main()

"""The experiment engine's costs, each against a reference measured in the same run.

Usage::

    python benches/experiments_compare.py [--quick] [--skip-dask]

Prints markdown tables:

1. Overhead on a study of ~3-second runs with one worker, against a bare Python loop that
   builds the same objectives and calls ``opt.run`` for the same runs under the same pinned
   thread count (target: at most 2%).
2. Overhead per run on trivially short runs (2 evaluations of a tiny problem) with one worker,
   against the same bare loop (target: at most 50 ms per run).
3. Throughput of 2 workers against 1 on this 2-core machine for single-threaded runs
   (target: at least 1.7x).
4. The Dask backend (a LocalCluster of the same size) against the local pool on the same
   study.

Engine measurements use executors whose workers were started and warmed up by an untimed
one-run study (a long study pays that once: its time is printed separately), and start from
an empty study directory; the bare loop runs in this process, warmed up by one untimed run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import toposcape as ts

SPEC = """
name = "{name}"
problems = ["{problem}"]
penal = [{penal}]
seeds = [0]
max_evals = {evals}

[[models]]
kind = "pixel"

[[optimizers]]
preset = "lbfgs"
memory = {memories}
"""


def _spec(name, problem, evals, n_runs):
    # Distinct runs from distinct penalties and memories (the pixel model ignores seeds).
    penal = ", ".join(f"{3.0 + 0.01 * i:g}" for i in range(n_runs))
    return SPEC.format(name=name, problem=problem, penal=penal, evals=evals, memories="[10]")


def _bare_loop(spec_text: str) -> float:
    spec = ts.experiments.load_spec(spec_text)
    runs = spec.unique_runs()
    start = time.perf_counter()
    for run in runs:
        settings = run.settings()
        with ts.threads(settings["threads"]):
            obj = ts.PixelObjective(
                settings["problem"], penal=settings["penal"], solver=settings["solver"]
            )
            opt = ts.optim.get("lbfgs", memory=settings["optimizer"]["memory"])
            opt.run(obj, max_evals=settings["max_evals"], progress=False)
    return time.perf_counter() - start


def _engine(spec_text: str, executor) -> float:
    out = Path(tempfile.mkdtemp(prefix="toposcape-bench-"))
    try:
        start = time.perf_counter()
        report = ts.experiments.run(spec_text, out / "study", executor=executor, progress=False)
        elapsed = time.perf_counter() - start
        assert report.ok, report
        return elapsed
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _started(kind: str, workers: int):
    """An executor with its workers started and warmed up; returns it and the time taken."""
    start = time.perf_counter()
    executor = ts.experiments.make_executor(kind, workers)
    _engine(_spec(f"warm-{kind}-{workers}", "mbb_beam_96x32_0.5", 3, workers), executor)
    return executor, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()

    n_long = 4 if args.quick else 8
    # ~3 s per run on the 2-core development VM (mbb_beam_384x128_0.3, 99k unknowns, pixel L-BFGS)
    long_spec = _spec("long", "mbb_beam_384x128_0.3", 25, n_long)
    n_short = 40 if args.quick else 100
    short_spec = _spec("short", "mbb_beam_96x32_0.5", 2, n_short)

    _bare_loop(_spec("warm", "mbb_beam_96x32_0.5", 3, 1))  # JIT and imports, untimed

    one, startup = _started("local", 1)
    two, _ = _started("local", 2)
    print(f"starting and warming up one local worker: {startup:.1f} s (once per study)\n")

    bare_long = _bare_loop(long_spec)
    engine_long = _engine(long_spec, one)
    per_run = bare_long / n_long
    print("| measurement | reference | engine | ratio / overhead | target |")
    print("|---|---|---|---|---|")
    print(
        f"| {n_long} runs of ~{per_run:.1f} s, 1 worker | bare loop {bare_long:.2f} s | "
        f"{engine_long:.2f} s | {100 * (engine_long / bare_long - 1):+.1f}% | <= 2% |"
    )

    bare_short = _bare_loop(short_spec)
    engine_short = _engine(short_spec, one)
    overhead = (engine_short - bare_short) / n_short
    print(
        f"| {n_short} runs of 2 evaluations, 1 worker | bare loop {bare_short:.2f} s | "
        f"{engine_short:.2f} s | {1e3 * overhead:.1f} ms per run | <= 50 ms |"
    )

    engine_two = _engine(long_spec, two)
    print(
        f"| {n_long} runs, 2 workers vs 1 | 1 worker {engine_long:.2f} s | "
        f"2 workers {engine_two:.2f} s | {engine_long / engine_two:.2f}x | >= 1.7x |"
    )
    if not args.skip_dask:
        dask, _ = _started("dask", 2)
        dask_two = _engine(long_spec, dask)
        dask.close()
        print(
            f"| {n_long} runs, Dask LocalCluster vs local pool (2 workers) | local "
            f"{engine_two:.2f} s | dask {dask_two:.2f} s | "
            f"{100 * (dask_two / engine_two - 1):+.1f}% | - |"
        )
    one.close()
    two.close()


if __name__ == "__main__":
    main()

"""``toposcape study ...``: run a study, its status, its report, step-size tuning."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import integer_at_least

__all__ = ["register"]


def _cmd_run(args: argparse.Namespace) -> int:
    from . import load_spec, run

    spec = load_spec(Path(args.spec))
    out = Path(args.out) if args.out else Path("toposcape-studies") / spec.name
    runs = spec.unique_runs()
    print(
        f"study {spec.name!r}: {len(spec.expand())} entries, {len(runs)} distinct runs "
        f"-> {out} ({args.executor if args.scheduler is None else 'dask ' + args.scheduler})"
    )
    try:
        report = run(
            spec,
            out,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=False if args.quiet else None,
            retry_failed=args.retry_failed,
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted: runs in flight are abandoned and will be redone; rerun the same "
            "command to continue",
            file=sys.stderr,
        )
        return 130
    c = report.counts
    print(
        f"computed {report.computed}, failed {report.failed}, already done {report.skipped}, "
        f"worker deaths {report.lost} in {report.wall_time:.1f} s; "
        f"study: {c['done']} done, {c['failed']} failed, {c['pending'] + c['running']} to do"
    )
    if c["failed"]:
        print(
            f"'toposcape study status {out}' lists the errors; '--retry-failed' reruns them",
            file=sys.stderr,
        )
    return 0 if report.ok else 1


def _cmd_status(args: argparse.Namespace) -> int:
    import numpy as np

    from . import open as open_study

    study = open_study(args.dir, args.study)
    table = study.runs()
    runs = table.drop_duplicates("key")
    counts = study.counts()
    print(f"study {study.name!r} at {args.dir}")
    for status in ("done", "running", "failed", "pending"):
        print(f"  {status:8s} {counts[status]:6d}")
    left = counts["pending"] + counts["running"]
    walls = runs.loc[runs["status"] == "done", "wall_time"].astype(float)
    if left and len(walls):
        per_run = float(np.mean(walls))
        workers = args.workers or 1
        print(
            f"  time left ~{_duration(per_run * left / workers)} with {workers} worker(s) "
            f"(mean run {per_run:.1f} s)"
        )
    failed = runs[runs["status"] == "failed"]
    for _, row in failed.head(args.errors).iterrows():
        print(
            f"  failed {row['key']} {row['problem']} {row['model']} {row['optimizer']} "
            f"seed {row['seed']}: {row['error']}"
        )
    if len(failed) > args.errors:
        print(f"  ... and {len(failed) - args.errors} more failed runs")
    return 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def add_executor_arguments(parser) -> None:
    """``--out``, ``--workers``, ``--executor``, ``--scheduler``: where a study's runs go and
    where they are computed (``study run`` and ``study tune`` alike)."""
    parser.add_argument("--out", default=None, help="study directory (toposcape-studies/NAME)")
    parser.add_argument(
        "--workers", type=integer_at_least(1), default=None, help="worker processes (all cores)"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local process pool (default) or dask (a LocalCluster)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="join a running dask scheduler, e.g. tcp://HOST:8786",
    )


def register(subparsers) -> None:
    """Add ``study`` with its subcommands to the ``toposcape`` parser."""
    study = subparsers.add_parser(
        "study",
        help="run studies from a TOML spec into a resumable store; status, report, tuning",
        description=(
            "Studies: problems x models x penalties x optimizers x options x seeds, from a TOML "
            "spec (see toposcape.experiments.spec), computed on a local process pool or on Dask "
            "into a resumable store. Rerunning a command continues where it stopped."
        ),
    )
    sub = study.add_subparsers(dest="study_command", required=True)

    r = sub.add_parser("run", help="compute the runs of a spec not yet in the store")
    r.add_argument("spec", help="TOML study spec")
    add_executor_arguments(r)
    r.add_argument("--retry-failed", action="store_true", help="rerun failed runs too")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("status", help="done / running / failed / pending runs, time left")
    s.add_argument("dir", help="study directory")
    s.add_argument("--study", default=None, help="which study of the directory (latest)")
    s.add_argument(
        "--workers",
        type=integer_at_least(1),
        default=None,
        help="workers to assume for the time estimate (1)",
    )
    s.add_argument(
        "--errors", type=integer_at_least(0), default=10, help="failed runs to list (10)"
    )
    s.set_defaults(func=_cmd_status)

    from .report import register_command as register_report
    from .tuning import register_command as register_tune

    register_report(sub)
    register_tune(sub)

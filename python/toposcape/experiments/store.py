"""A study's durable store: an SQLite index and one netCDF result file per run.

Layout of a study directory::

    DIR/index.sqlite        runs (key, settings, status, attempts, error, host, wall time,
                            version, summary), members (which study entry maps to which run,
                            with its seed), studies (the specs run into this directory)
    DIR/runs/<key>.nc       one result per finished run, written atomically
    DIR/coordinator.lock    held by the process writing the index (who: its text)

Only the coordinating process writes (WAL mode, so readers such as ``toposcape study status``
never block it), and only one at a time: a writable store holds an exclusive lock on
``DIR/coordinator.lock`` while it is open, and a second one is refused with
:class:`~toposcape.errors.StudyInUseError` naming the holder. A result is written (temporary
file + rename) before its row says "done", so a kill at any moment leaves at most the runs in
flight undone, and never a run counted twice. On opening for a new session, runs left
"running" by a killed coordinator become "pending" again, and "done" runs whose file is
missing or unreadable are redone.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Store", "STATUSES"]

STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    problem TEXT, model TEXT, penal REAL, optimizer TEXT, seed INTEGER,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT, traceback TEXT,
    host TEXT, wall_time REAL, version TEXT, git_commit TEXT,
    started REAL, finished REAL,
    best_loss REAL, final_loss REAL, n_evals INTEGER, n_steps INTEGER, reason TEXT,
    meta TEXT
);
CREATE TABLE IF NOT EXISTS members (
    study TEXT NOT NULL, key TEXT NOT NULL, seed INTEGER NOT NULL, position INTEGER NOT NULL,
    model TEXT, optimizer TEXT,
    PRIMARY KEY (study, key, seed)
);
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, created REAL
);
"""


def _coordinator_lock(path: Path):
    """Take ``path/coordinator.lock`` exclusively (``flock``; released when the returned file
    is closed or the process dies) and write who holds it; raise StudyInUseError when held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, one coordinator by convention
        return None
    from ..errors import StudyInUseError

    handle = open(path / "coordinator.lock", "a+")  # noqa: SIM115 - kept open as the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StudyInUseError(
            f"study directory {str(path)!r} is being written by {holder}: one coordinator at a "
            "time (wait for it to finish, or write to another --out directory)"
        ) from None
    handle.seek(0)
    handle.truncate()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    handle.write(f"process {os.getpid()} on {socket.gethostname()} (since {started})\n")
    handle.flush()
    return handle


def _insert(db, study: str, position: int, run, seed: int) -> None:
    """A run (once for all studies) and its entry in ``study``, with the study's labels: a
    run shared by two studies keeps each study's own names for its model and optimizer."""
    db.execute(
        "INSERT OR IGNORE INTO runs(key, settings, problem, model, penal, optimizer, seed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            run.key,
            json.dumps(run.settings(), sort_keys=True),
            run.problem,
            run.model.label(),
            run.penal,
            run.optimizer.label(),
            run.seed,
        ),
    )
    db.execute(
        "INSERT OR IGNORE INTO members(study, key, seed, position, model, optimizer) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (study, run.key, seed, position, run.model.label(), run.optimizer.label()),
    )


_ENTRY_COLUMNS = (
    "runs.key, runs.settings, runs.problem, runs.penal, runs.seed, runs.status, runs.attempts, "
    "runs.error, runs.traceback, runs.host, runs.wall_time, runs.version, runs.git_commit, "
    "runs.started, runs.finished, runs.best_loss, runs.final_loss, runs.n_evals, runs.n_steps, "
    "runs.reason, runs.meta, COALESCE(members.model, runs.model) AS model, "
    "COALESCE(members.optimizer, runs.optimizer) AS optimizer, members.seed AS entry_seed, "
    "members.study AS study"
)


class Store:
    """The index and result files of one study directory.

    Parameters
    ----------
    path : str or Path
        The study directory (created if missing).
    readonly : bool
        Open the index for reading only (``status``, ``report``): no recovery is done.
    """

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = None
        index = self.path / "index.sqlite"
        if readonly:
            if not index.exists():
                from ..errors import InvalidInputError

                raise InvalidInputError(
                    f"{str(self.path)!r} is not a study directory (no index.sqlite): run "
                    "'toposcape study run SPEC --out DIR' first"
                )
            self._db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=30)
        else:
            (self.path / "runs").mkdir(parents=True, exist_ok=True)
            self._lock = _coordinator_lock(self.path)
            self._db = sqlite3.connect(index, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
        self._db.row_factory = sqlite3.Row
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(members)")}
        self._entry_labels = {"model", "optimizer"} <= columns
        if not self._entry_labels and not readonly:  # an index written before entry labels
            with self._db:
                self._db.execute("ALTER TABLE members ADD COLUMN model TEXT")
                self._db.execute("ALTER TABLE members ADD COLUMN optimizer TEXT")
            self._entry_labels = True

    def close(self) -> None:
        """Close the index and, for a writable store, release the coordinator lock."""
        self._db.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases its flock
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------
    def result_path(self, key: str) -> Path:
        return self.path / "runs" / f"{key}.nc"

    def add_study(self, name: str, spec: Mapping[str, Any], entries: Iterable) -> None:
        """Register a study and its ``(run, seed)`` entries; new runs start "pending"."""
        db = self._db
        with db:
            db.execute(
                "INSERT OR REPLACE INTO studies(name, spec, created) VALUES (?, ?, ?)",
                (name, json.dumps(spec, default=str), time.time()),
            )
            db.execute("DELETE FROM members WHERE study = ?", (name,))
            for position, (run, seed) in enumerate(entries):
                _insert(db, name, position, run, seed)

    def add_entries(self, study: str, spec: Mapping[str, Any], entries: Iterable) -> None:
        """Register more ``(run, seed)`` entries of ``study``, keeping its earlier ones.

        For studies that grow as they go (step-size tuning adds each trial's runs); unlike
        :meth:`add_study`, the study's members are not replaced and its creation time is kept.
        """
        db = self._db
        with db:
            db.execute(
                "INSERT INTO studies(name, spec, created) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec",
                (study, json.dumps(spec, default=str), time.time()),
            )
            (start,) = db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM members WHERE study = ?", (study,)
            ).fetchone()
            for position, (run, seed) in enumerate(entries, start):
                _insert(db, study, position, run, seed)

    def run(self, key: str) -> sqlite3.Row | None:
        """The index row of run ``key`` (None when unknown)."""
        return self._db.execute("SELECT * FROM runs WHERE key = ?", (key,)).fetchone()

    def recover(self) -> dict[str, int]:
        """Make the index consistent after a kill; returns how many runs were reset.

        "running" (in flight when the coordinator died) -> "pending"; "done" whose result
        file is missing or unreadable -> "pending". Every study's runs: this store holds the
        directory's coordinator lock, so no other coordinator is computing any of them.
        """
        db = self._db
        with db:
            stale = db.execute(
                "UPDATE runs SET status = 'pending' WHERE status = 'running'"
            ).rowcount
        broken = 0
        for (key,) in db.execute("SELECT key FROM runs WHERE status = 'done'").fetchall():
            if not self.readable(key):
                broken += 1
                with db:
                    db.execute("UPDATE runs SET status = 'pending' WHERE key = ?", (key,))
        return {"in_flight": stale, "unreadable": broken}

    def readable(self, key: str) -> bool:
        """Whether the run's result file exists and opens as netCDF."""
        path = self.result_path(key)
        if not path.is_file() or path.stat().st_size == 0:
            return False
        try:
            from scipy.io import netcdf_file

            with netcdf_file(path, "r", mmap=False) as f:
                return "loss" in f.variables
        except Exception:
            return False

    def pending(self, study: str | None = None, retry_failed: bool = False) -> list[sqlite3.Row]:
        """Runs still to compute (of one study, or all), in the study's order."""
        statuses = ("pending", "failed") if retry_failed else ("pending",)
        marks = ",".join("?" * len(statuses))
        if study is None:
            return self._db.execute(
                f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY rowid", statuses
            ).fetchall()
        return self._db.execute(
            f"SELECT runs.* FROM runs JOIN (SELECT key, MIN(position) AS position FROM members "
            f"WHERE study = ? GROUP BY key) m USING (key) WHERE status IN ({marks}) "
            "ORDER BY m.position",
            (study, *statuses),
        ).fetchall()

    def mark_running(self, key: str) -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, started = ? "
                "WHERE key = ?",
                (time.time(), key),
            )

    def mark_pending(self, key: str) -> None:
        with self._db:
            self._db.execute("UPDATE runs SET status = 'pending' WHERE key = ?", (key,))

    def finish(self, result) -> None:
        """Store a worker's :class:`~.runner.RunResult`: the file first, then the row."""
        meta = result.meta
        if result.ok:
            path = self.result_path(result.key)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                f.write(result.netcdf)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            s = result.summary
            values = (
                "done",
                None,
                None,
                s["best_loss"],
                s["final_loss"],
                s["n_evals"],
                s["n_steps"],
                s["reason"],
            )
        else:
            values = ("failed", result.error, result.traceback, None, None, None, None, None)
        with self._db:
            self._db.execute(
                "UPDATE runs SET status = ?, error = ?, traceback = ?, best_loss = ?, "
                "final_loss = ?, n_evals = ?, n_steps = ?, reason = ?, host = ?, wall_time = ?, "
                "version = ?, git_commit = ?, started = ?, finished = ?, meta = ? WHERE key = ?",
                (
                    *values,
                    meta.get("host"),
                    meta.get("wall_time"),
                    meta.get("version"),
                    meta.get("git_commit"),
                    meta.get("started"),
                    meta.get("finished"),
                    json.dumps(meta, default=str),
                    result.key,
                ),
            )

    def fail(self, key: str, error: str, tb: str = "") -> None:
        """Record a run as failed without a worker result (e.g. its worker died twice)."""
        with self._db:
            self._db.execute(
                "UPDATE runs SET status = 'failed', error = ?, traceback = ?, finished = ?, "
                "best_loss = NULL, final_loss = NULL, n_evals = NULL, n_steps = NULL, "
                "reason = NULL WHERE key = ?",
                (error, tb, time.time(), key),
            )

    # ------------------------------------------------------------------------------------
    def counts(self, study: str | None = None) -> dict[str, int]:
        """Runs per status (distinct runs: a pixel run shared by seeds counts once)."""
        if study is None:
            rows = self._db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")
        else:
            rows = self._db.execute(
                "SELECT status, COUNT(*) FROM runs WHERE key IN "
                "(SELECT key FROM members WHERE study = ?) GROUP BY status",
                (study,),
            )
        out = dict.fromkeys(STATUSES, 0)
        out.update({status: n for status, n in rows})
        return out

    def studies(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM studies ORDER BY created")]

    def spec(self, study: str) -> dict[str, Any]:
        row = self._db.execute("SELECT spec FROM studies WHERE name = ?", (study,)).fetchone()
        if row is None:
            from ..errors import UnknownNameError

            raise UnknownNameError(
                f"no study {study!r} in {self.path} (studies: "
                f"{', '.join(self.studies()) or 'none'})"
            )
        return json.loads(row[0])

    def rows(self, study: str | None = None) -> list[sqlite3.Row]:
        """One row per study entry (run x seed), with the run's index columns."""
        columns = _ENTRY_COLUMNS
        if not self._entry_labels:
            columns = columns.replace("COALESCE(members.model, runs.model)", "runs.model")
            columns = columns.replace(
                "COALESCE(members.optimizer, runs.optimizer)", "runs.optimizer"
            )
        if study is None:
            return self._db.execute(
                f"SELECT {columns} FROM members JOIN runs USING (key) "
                "ORDER BY members.study, members.position"
            ).fetchall()
        return self._db.execute(
            f"SELECT {columns} FROM members JOIN runs USING (key) "
            "WHERE members.study = ? ORDER BY members.position",
            (study,),
        ).fetchall()

"""The experiment board: a SQLite kanban (WAL mode) inside the workspace.

Every state change goes through `Board.transition`, which checks the move against `TRANSITIONS` inside one
`BEGIN IMMEDIATE` transaction, so several processes (the campaign, a work-pool job, `alphalab cancel`) may write at
once. Each thread of each process has a connection of its own: nothing is shared between threads or processes.

Verification: a new best is re-run with a fresh seed as a separate row of kind `verify` whose `parent` is the
experiment it checks. The re-run never appears on the leaderboard itself; it sets the parent's `verified` flag
(True when the re-run still beats the best that came before the parent, False when it does not).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alphalab import ranking
from alphalab.board_rows import (
    CANCELLABLE, STATES, TRANSITIONS, Experiment, IllegalTransition, Kind, Note, RunRecord, State,
    UnknownExperiment, slugify,
)
from alphalab.manifest import Metric
from alphalab.ranking import LeaderboardEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT 'experiment',
    name TEXT NOT NULL,
    hypothesis TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL DEFAULT '{}',
    parent TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    slot TEXT,
    job_id TEXT,
    seed INTEGER,
    metrics TEXT NOT NULL DEFAULT '{}',
    eval_mode TEXT,
    error_signature TEXT,
    note TEXT NOT NULL DEFAULT '',
    verified INTEGER,
    label TEXT,
    score REAL,
    score_n INTEGER,
    score_spread REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    analyzed_at REAL,
    analyzed_seq INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, source TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    exp_id TEXT NOT NULL, attempt INTEGER NOT NULL, slot TEXT, ok INTEGER NOT NULL, error_signature TEXT,
    started_at REAL, finished_at REAL NOT NULL, seed INTEGER
);
"""

_JSON_FIELDS = ("spec", "metrics")
_UPDATABLE = frozenset({
    "attempts", "slot", "job_id", "seed", "metrics", "eval_mode", "error_signature", "note", "spec",
    "started_at", "finished_at", "verified", "label", "score", "score_n", "score_spread",
})
# columns added since the first boards: a board written before gets them when it is opened
_ADDED_COLUMNS = {"experiments": ("label TEXT", "score REAL", "score_n INTEGER", "score_spread REAL"),
                  "runs": ("seed INTEGER",)}


class Board:
    def __init__(self, path: Path, noise_floor: float | None = None):
        self.path = Path(path)
        self.noise_floor = noise_floor
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():
                have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                for column in columns:
                    if column.split()[0] not in have:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened on first use; a forked child opens its own): opening one per call cost
        the Dispatcher more than its queries, since the last connection to close checkpoints the WAL."""
        cached = getattr(self._local, "con", None)
        if cached is None or cached[0] != os.getpid():
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
            con.row_factory = sqlite3.Row
            # WAL with NORMAL sync: a commit survives a killed process (resume after kill -9), only a power loss may
            # take the last ones back; FULL would fsync every one of the Dispatcher's many small writes
            con.execute("PRAGMA synchronous=NORMAL")
            cached = self._local.con = (os.getpid(), con)
        yield cached[1]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is taken before reading, so check-then-write is atomic."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @staticmethod
    def _row(row: sqlite3.Row) -> Experiment:
        data = dict(row)
        for key in _JSON_FIELDS:
            data[key] = json.loads(data[key])
        return Experiment.model_validate(data)  # pydantic reads the stored 0/1 of `verified` as a bool

    @staticmethod
    def _columns(fields: dict[str, Any]) -> dict[str, Any]:
        """Fields as column values (JSON fields serialized); sqlite3 stores a bool as 0/1 itself."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if "metrics" in fields:
            # NaN or inf is no result: dropped, so the stored JSON stays valid for SQLite's json functions (best())
            fields = fields | {"metrics": {k: v for k, v in fields["metrics"].items() if math.isfinite(v)}}
        return {k: (json.dumps(v, sort_keys=True) if k in _JSON_FIELDS else v) for k, v in fields.items()}

    # ---- creating rows -------------------------------------------------------------------------------------
    def add(
        self, name: str, spec: dict[str, Any], hypothesis: str = "", parent: str | None = None,
        kind: Kind = "experiment", state: State = "to_implement",
        seed: int | None = None,
    ) -> Experiment:
        now = time.time()
        with self._write() as con:
            seq = con.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM experiments").fetchone()[0]
            exp_id = f"e{seq:03d}-{slugify(name)}"
            con.execute(
                "INSERT INTO experiments (id, seq, kind, name, hypothesis, spec, parent, state, seed, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (exp_id, seq, kind, name, hypothesis, json.dumps(spec, sort_keys=True), parent, state, seed, now, now),
            )
        return self.get(exp_id)

    # ---- reading -------------------------------------------------------------------------------------------
    def get(self, exp_id: str) -> Experiment:
        with self._connect() as con:
            row = con.execute("SELECT * FROM experiments WHERE id = ?", (exp_id,)).fetchone()
        if row is None:
            raise UnknownExperiment(f"no experiment {exp_id!r} on the board")
        return self._row(row)

    def select(self, *states: str, kind: str | None = None) -> list[Experiment]:
        query, args = "SELECT * FROM experiments", []
        clauses = []
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._connect() as con:
            return [self._row(r) for r in con.execute(query + " ORDER BY seq", args)]

    def counts(self) -> dict[str, int]:
        with self._connect() as con:
            rows = con.execute("SELECT state, COUNT(*) FROM experiments GROUP BY state").fetchall()
        out = {s: 0 for s in STATES}
        out.update({r[0]: r[1] for r in rows})
        return out

    def experiments_used(self) -> int:
        """Experiments counted against the budget: all but those cancelled before they ever ran."""
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM experiments WHERE kind = 'experiment'"
                               " AND NOT (state = 'cancelled' AND started_at IS NULL)").fetchone()[0]

    def analyzed_count(self, kind: str = "experiment") -> int:
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM experiments WHERE analyzed_seq IS NOT NULL AND kind = ?",
                               (kind,)).fetchone()[0]

    def analyzed(self, kind: str = "experiment") -> list[Experiment]:
        """Experiments with a debrief, in the order they were analyzed."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM experiments WHERE analyzed_seq IS NOT NULL AND kind = ? ORDER BY analyzed_seq", (kind,)
            ).fetchall()
        return [self._row(r) for r in rows]

    # ---- state changes -------------------------------------------------------------------------------------
    def transition(self, exp_id: str, to: State, *, expect: str | None = None, **fields: Any) -> Experiment:
        """Move one experiment to `to`, updating `fields` in the same transaction. Raises IllegalTransition."""
        sets = self._columns(fields)
        now = time.time()
        with self._write() as con:
            row = con.execute("SELECT state FROM experiments WHERE id = ?", (exp_id,)).fetchone()
            if row is None:
                raise UnknownExperiment(f"no experiment {exp_id!r} on the board")
            current = row[0]
            if expect is not None and current != expect:
                raise IllegalTransition(f"{exp_id}: expected state {expect}, found {current}")
            if to not in TRANSITIONS[current]:
                raise IllegalTransition(f"{exp_id}: {current} -> {to} is not allowed")
            if to == "analyzed":
                sets["analyzed_at"] = now
                sets["analyzed_seq"] = con.execute(
                    "SELECT COALESCE(MAX(analyzed_seq), 0) + 1 FROM experiments").fetchone()[0]
            sets.update(state=to, updated_at=now)
            con.execute(
                f"UPDATE experiments SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                [*sets.values(), exp_id],
            )
        return self.get(exp_id)

    def update(self, exp_id: str, **fields: Any) -> Experiment:
        """Change fields without a state change (attempt counters, notes, verification flags)."""
        sets = self._columns(fields)
        sets["updated_at"] = time.time()
        with self._write() as con:
            cur = con.execute(
                f"UPDATE experiments SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", [*sets.values(), exp_id]
            )
            if cur.rowcount == 0:
                raise UnknownExperiment(f"no experiment {exp_id!r} on the board")
        return self.get(exp_id)

    def close(self, exp_id: str, ok: bool, failure_note: str) -> Experiment:
        """A run no Worker analyzes (a re-run, a noise-floor run): done when it recorded its result, else dead."""
        if ok:
            self.transition(exp_id, "analyzed")
            return self.transition(exp_id, "done")
        return self.transition(exp_id, "dead", note=failure_note)

    def cancel(self, exp_id: str, reason: str) -> Experiment:
        exp = self.get(exp_id)
        if exp.state not in CANCELLABLE:
            raise IllegalTransition(f"{exp_id} is {exp.state}; only {sorted(CANCELLABLE)} can be cancelled")
        return self.transition(exp_id, "cancelled", note=f"cancelled: {reason}")

    # ---- runs (one row per finished GPU run, for the Supervisor's sliding window) ------------------------------
    def record_run(self, exp_id: str, attempt: int, slot: str | None, ok: bool, error_signature: str | None,
                   started_at: float | None, seed: int | None = None) -> None:
        with self._write() as con:
            con.execute(
                "INSERT INTO runs (exp_id, attempt, slot, ok, error_signature, started_at, finished_at, seed)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (exp_id, attempt, slot, int(ok), error_signature, started_at, time.time(), seed),
            )

    def recent_runs(self, n: int) -> list[RunRecord]:
        with self._connect() as con:
            rows = con.execute("SELECT * FROM runs ORDER BY finished_at DESC LIMIT ?", (n,)).fetchall()
        return [RunRecord.model_validate(dict(r)) for r in rows]

    def run_count(self) -> int:
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    # ---- leaderboard ---------------------------------------------------------------------------------------
    def leaderboard(self, metric: Metric, limit: int | None = None) -> list[LeaderboardEntry]:
        """The ranked experiments (alphalab.ranking), best first."""
        out = ranking.leaderboard(self.select(kind="experiment"), self.select(kind="verify"), metric, self.noise_floor)
        return out[:limit] if limit else out

    def best(self, metric: Metric) -> LeaderboardEntry | None:
        """The top entry, read with the ranking rule in SQL: the runner-up (for the noise flag) and the top's own
        re-runs are all it needs, however long the board."""
        clause, args = ranking.sql_ranked(metric)
        with self._connect() as con:
            top = [self._row(r) for r in con.execute(f"SELECT * FROM experiments {clause} LIMIT 2", args)]
            reruns = [self._row(r) for r in con.execute(
                "SELECT * FROM experiments WHERE kind = 'verify' AND parent = ? ORDER BY seq",
                (top[0].id if top else "",))]
        entries = ranking.leaderboard(top, reruns, metric, self.noise_floor)
        return entries[0] if entries else None

    # ---- meta and operator notes -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as con:
            con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value))

    def add_note(self, text: str, source: str = "operator") -> Note:
        note = {"text": text, "source": source, "created_at": time.time()}
        with self._write() as con:
            cur = con.execute("INSERT INTO notes (text, source, created_at) VALUES (:text, :source, :created_at)", note)
        return Note(id=cur.lastrowid, **note)

    def notes(self, limit: int | None = None) -> list[Note]:
        """Newest last; `limit` keeps the newest ones."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM notes ORDER BY id DESC LIMIT ?", (limit or -1,)).fetchall()
        return [Note(**dict(r)) for r in reversed(rows)]

"""The results database: every measured configuration is one row, so runs from many devices and days accumulate.

SQLite, schema version in ``meta``; a row is keyed by the model file's sha256 and the configuration key
(:meth:`BenchConfig.key`: backend, device, threads, delegate, batch, precision, options, target and machine).
Repeating a configuration adds a row rather than replacing one; the report shows the latest per key and how many
there are. Each row is written in its own transaction as soon as it is measured, and the ``runs`` row says whether
its run completed, so an interrupted run leaves every finished row and nothing half-written.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from edgenet.device_bench.results import BenchResult

from edgenet import __version__
from edgenet.errors import EdgenetError

SCHEMA_VERSION = 3
SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        command TEXT,
        host TEXT,
        edgenet_version TEXT)""",
    """CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        created_at TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        config_key TEXT NOT NULL,
        model TEXT NOT NULL, model_file TEXT NOT NULL, model_format TEXT NOT NULL, model_bytes INTEGER NOT NULL,
        precision TEXT NOT NULL, resolution INTEGER,
        backend TEXT NOT NULL, backend_version TEXT, device TEXT NOT NULL, target TEXT NOT NULL,
        machine TEXT NOT NULL, threads INTEGER NOT NULL, delegate TEXT NOT NULL, batch INTEGER NOT NULL,
        runs INTEGER NOT NULL, warmup INTEGER NOT NULL,
        p50_ms REAL, p90_ms REAL, p99_ms REAL, mean_ms REAL, std_ms REAL, min_ms REAL, max_ms REAL,
        throughput_per_s REAL, load_ms REAL, first_inference_ms REAL, peak_rss_mb REAL,
        input_dtype TEXT, top1 REAL, top5 REAL, eval_samples INTEGER, top5_k INTEGER, unstable INTEGER,
        delegate_ran TEXT, interpreter TEXT,
        options_json TEXT NOT NULL, env_json TEXT NOT NULL, latencies_json TEXT NOT NULL)""",
    "CREATE INDEX results_key ON results (model_sha256, config_key)",
]
# version -> statements that bring a database of version-1 up to it
MIGRATIONS: dict[int, list[str]] = {
    2: [  # the k of top-5 (unknown for older rows) and the instability flag (from p90/p50 alone for older rows)
        "ALTER TABLE results ADD COLUMN top5_k INTEGER",
        "ALTER TABLE results ADD COLUMN unstable INTEGER",
        "UPDATE results SET unstable = (p90_ms > 1.5 * p50_ms) WHERE p50_ms > 0 AND p90_ms IS NOT NULL",
    ],
    3: [  # what actually ran: unknown (NULL) for older rows, which recorded only what was asked; the interpreter
        # package is recoverable from their options
        "ALTER TABLE results ADD COLUMN delegate_ran TEXT",
        "ALTER TABLE results ADD COLUMN interpreter TEXT",
        "UPDATE results SET interpreter = COALESCE(json_extract(options_json, '$.interpreter'), backend) || ' ' || "
        "COALESCE(backend_version, 'unknown')",
    ],
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ResultsDB:
    """Open (creating or migrating) a results database; a file that is not one is a one-line error."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise EdgenetError(f"--db {self.path}: is a folder, not a database file")
        if self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise EdgenetError(f"--db {self.path}: not an SQLite database; choose another file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # explicit transactions only
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
        except (OSError, sqlite3.OperationalError) as e:  # a read-only or non-folder parent, /proc, a full disk
            raise EdgenetError(
                f"--db {self.path}: cannot open or create the database ({e}); choose another file"
            ) from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error (KeyboardInterrupt included)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _init_schema(self) -> None:
        """Create or migrate the schema; processes opening one new database at once create it exactly once.

        The common case (a current database) only reads. Otherwise the check is repeated inside BEGIN IMMEDIATE,
        which admits one writer at a time (the others wait up to the 30 s busy timeout): of four processes that
        each saw an empty file, the first creates the tables and the rest find them.
        """
        if self._version() == SCHEMA_VERSION:
            return
        with self.transaction() as c:
            version = self._version()
            if version is None:
                for stmt in SCHEMA:
                    c.execute(stmt)
                c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            if version > SCHEMA_VERSION:
                raise EdgenetError(f"--db {self.path}: schema version {version} is newer than this edgenet; upgrade it")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS.get(v, []):
                    c.execute(stmt)
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def _version(self) -> int | None:
        """The schema version; None for a database without tables (new); 0 for one without a version row."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise EdgenetError(f"--db {self.path}: an SQLite file, but not an edgenet results database")
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    # ------------------------------------------------------------------------------------------------ writing
    def start_run(self, command: str) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started_at, status, command, host, edgenet_version) VALUES (?, 'running', ?, ?, ?)",
                (_now(), command, socket.gethostname(), __version__),
            )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, _now(), run_id))

    def add_result(self, run_id: int, r: BenchResult) -> int:
        lat = r.latency_ms
        row = {
            "run_id": run_id,
            "created_at": r.created_at,
            "model_sha256": r.model_sha256,
            "config_key": r.config_key,
            "model": r.model,
            "model_file": r.model_file,
            "model_format": r.model_format,
            "model_bytes": r.model_bytes,
            "precision": r.precision,
            "resolution": r.resolution,
            "backend": r.backend,
            "backend_version": r.backend_version,
            "device": r.device,
            "target": r.target,
            "machine": r.machine,
            "threads": r.threads,
            "delegate": r.delegate,
            "batch": r.batch,
            "runs": r.runs,
            "warmup": r.warmup,
            "p50_ms": lat.p50,
            "p90_ms": lat.p90,
            "p99_ms": lat.p99,
            "mean_ms": lat.mean,
            "std_ms": lat.std,
            "min_ms": lat.min,
            "max_ms": lat.max,
            "throughput_per_s": r.throughput_per_s,
            "load_ms": r.load_ms,
            "first_inference_ms": r.first_inference_ms,
            "peak_rss_mb": r.peak_rss_mb,
            "input_dtype": r.input_dtype,
            "top1": r.top1,
            "top5": r.top5,
            "eval_samples": r.eval_samples,
            "top5_k": r.top5_k,
            "unstable": int(r.unstable),
            "delegate_ran": r.delegate_ran,
            "interpreter": r.interpreter,
            "options_json": json.dumps(r.options, sort_keys=True),
            "env_json": json.dumps(r.env, sort_keys=True),
            "latencies_json": json.dumps([round(x, 6) for x in r.latencies_ms]),
        }
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self.transaction() as c:
            cur = c.execute(f"INSERT INTO results ({cols}) VALUES ({marks})", row)
        return int(cur.lastrowid)

    # ------------------------------------------------------------------------------------------------ reading
    def rows(self, latest_only: bool = True) -> list[dict]:
        """Result rows as dicts (env/options parsed), newest first; ``latest_only`` keeps one row per
        (model sha256, configuration key) and adds ``repeats``: how many rows that key has."""
        sql = "SELECT r.*, COUNT(*) OVER (PARTITION BY model_sha256, config_key) AS repeats, "
        sql += "ROW_NUMBER() OVER (PARTITION BY model_sha256, config_key ORDER BY r.id DESC) AS rn FROM results r"
        out = []
        for row in self.conn.execute(f"SELECT * FROM ({sql}) {'WHERE rn = 1' if latest_only else ''} ORDER BY id"):
            d = dict(row)
            d["env"], d["options"] = json.loads(d.pop("env_json")), json.loads(d.pop("options_json"))
            d.pop("latencies_json")
            d.pop("rn")
            out.append(d)
        return out

    def runs(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM runs ORDER BY id")]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def result_row_dict(r: BenchResult) -> dict:
    """A BenchResult flattened as the report reads rows (for reports straight from --json output)."""
    d = asdict(r)
    for k, v in d.pop("latency_ms").items():
        d[f"{k}_ms"] = v
    d.pop("latencies_ms")
    return d

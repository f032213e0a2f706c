"""Store step: chunks and their vectors in SQLite, written by several worker processes at once."""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from docjobs.tasks.chunk import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start_page INTEGER NOT NULL,
    end_page INTEGER NOT NULL,
    text TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (job_id, idx)
)
"""


@dataclass(frozen=True)
class StoredChunk:
    chunk: Chunk
    vector: list[float]


class ChunkStore:
    """One SQLite file in WAL mode; a connection per call, so it is safe across forks."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write
        # lock up front, so two writers wait on the busy timeout instead of deadlocking).
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        with closing(conn):
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            yield conn

    def replace(self, job_id: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        """Make the job's rows exactly these, in one transaction (a retried job never doubles)."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        rows = [
            (job_id, c.index, c.start_page, c.end_page, c.text, len(v), array("f", v).tobytes())
            for c, v in zip(chunks, vectors, strict=True)
        ]
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
                conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def delete(self, job_id: str) -> int:
        """Remove a job's rows (after a cancel); returns how many there were."""
        with self._connect() as conn:
            return conn.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,)).rowcount

    def count(self, job_id: str) -> int:
        with self._connect() as conn:
            row = conn.execute("SELECT COUNT(*) FROM chunks WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def load(self, job_id: str) -> list[StoredChunk]:
        """A job's chunks and vectors, in order."""
        query = (
            "SELECT idx, text, start_page, end_page, vector FROM chunks WHERE job_id = ? "
            "ORDER BY idx"
        )
        with self._connect() as conn:
            rows = conn.execute(query, (job_id,)).fetchall()
        return [
            StoredChunk(Chunk(idx, text, start, end), array("f", blob).tolist())
            for idx, text, start, end, blob in rows
        ]

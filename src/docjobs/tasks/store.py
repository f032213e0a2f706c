"""Store step: chunks and their vectors in SQLite, written by several worker processes at once."""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from docjobs.tasks.chunk import Chunk

logger = logging.getLogger(__name__)

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

# The page size of a new store (SQLite's default is 4 KB). A row is ~2 KB, a vector and a
# chunk's text: on 16 KB pages a 1,000-page document's 4,000 rows are written in 0.6-0.7 times
# the time (`python -m bench store`; 64 KB pages are no faster). A split job's join writes
# them while the other processes wait. An existing store keeps the page size it was made with.
PAGE_SIZE = 16384

# A row to write: the chunk, and its vector as float32 bytes (or as floats, packed here).
Row = tuple[Chunk, bytes | Sequence[float]]


@dataclass(frozen=True)
class StoredChunk:
    chunk: Chunk
    vector: list[float]


class ChunkStore:
    """One SQLite file in WAL mode; a connection per call, so it is safe across forks."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._prepare()

    def _prepare(self) -> None:
        """Switch the file to WAL (once: the mode is kept in the file) and create the table.

        Changing the journal mode needs the file to itself and SQLite answers "database is
        locked" at once rather than wait on the busy timeout, so two processes opening a new
        store together retry here, within that timeout, instead of failing a job."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.01
        while True:
            try:
                with self._connect() as conn:
                    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                        # Only a new, empty file takes it; it must come before the WAL switch.
                        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + delay > deadline:
                    raise
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 0.5)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = self._open()
        with closing(conn):
            yield conn

    def _open(self, *, any_thread: bool = False) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write
        # lock up front, so two writers wait on the busy timeout instead of deadlocking).
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_s,
            isolation_level=None,
            check_same_thread=not any_thread,
        )
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        return conn

    def write(self, job_id: str, rows: Iterable[Row]) -> int:
        """Make the job's rows exactly `rows`, in one transaction (a retried job never doubles,
        a failure half-way leaves the rows as they were); returns how many.

        `rows` is read as it is written, so a caller can make them as it goes instead of
        holding a whole document's; it runs inside the transaction, so it should be quick."""
        written = 0

        def records() -> Iterator[tuple[str, int, int, int, str, int, bytes]]:
            nonlocal written
            for chunk, vector in rows:
                blob = vector if isinstance(vector, bytes) else array("f", vector).tobytes()
                written += 1
                row = (chunk.index, chunk.start_page, chunk.end_page, chunk.text, len(blob) // 4)
                yield (job_id, *row, blob)

        conn = self._open(any_thread=True)
        try:
            # No checkpoint in this COMMIT, nor in the close after it (the last connection
            # to close checkpoints too): copying a document's pages from the WAL into the
            # database takes 40-70 ms for 4,000 chunks, and the caller has an outcome to send.
            # A thread beside it checkpoints and closes, below.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
                conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", records())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        threading.Thread(
            target=self._checkpoint, args=(conn,), name="chunk-store-checkpoint", daemon=True
        ).start()
        return written

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """Copy what the WAL holds into the database without waiting on anyone (a reader or
        writer in the way leaves the rest to the next checkpoint), and close `conn`."""
        try:
            with closing(conn):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the WAL only grows until the next one succeeds
            logger.warning("chunk store %s: checkpoint failed: %s", self.path.name, exc)

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

"""The SQLite chunk store: idempotent writes, delete, compact vectors, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docjobs.tasks.chunk import Chunk
from docjobs.tasks.store import PAGE_SIZE, ChunkStore


def make(n: int, *, tag: str = "t", dim: int = 4) -> tuple[list[Chunk], list[list[float]]]:
    chunks = [Chunk(i, f"{tag} chunk {i}", i + 1, i + 2) for i in range(n)]
    vectors = [[float(i) + 0.25 * d for d in range(dim)] for i in range(n)]
    return chunks, vectors


def put(store: ChunkStore, job_id: str, chunks: list[Chunk], vectors: list[list[float]]) -> None:
    store.write(job_id, zip(chunks, vectors, strict=True))


def test_write_stores_chunks_and_vectors_that_read_back(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path / "chunks.sqlite3")
    chunks, vectors = make(3)
    put(store, "J1", chunks, vectors)

    loaded = store.load("J1")
    assert [s.chunk for s in loaded] == chunks
    assert [s.vector for s in loaded] == vectors  # exact: quarter steps are float32-exact
    assert store.count("J1") == 3 and store.count("other") == 0


def test_a_retried_job_replaces_its_rows_instead_of_doubling_them(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path / "chunks.sqlite3")
    put(store, "J1", *make(5, tag="first"))
    put(store, "J1", *make(5, tag="first"))
    assert store.count("J1") == 5
    put(store, "J1", *make(2, tag="second"))
    assert [s.chunk.text for s in store.load("J1")] == ["second chunk 0", "second chunk 1"]


def test_a_failed_write_leaves_the_previous_rows(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path / "chunks.sqlite3")
    put(store, "J1", *make(2))
    chunks, vectors = make(3, tag="new")
    chunks[2] = chunks[1]  # duplicate index: the insert fails half-way
    with pytest.raises(sqlite3.IntegrityError):
        put(store, "J1", chunks, vectors)
    assert [s.chunk.text for s in store.load("J1")] == ["t chunk 0", "t chunk 1"]


def test_delete_removes_one_job_only(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path / "chunks.sqlite3")
    put(store, "J1", *make(3))
    put(store, "J2", *make(2))
    assert store.delete("J1") == 3
    assert store.count("J1") == 0 and store.count("J2") == 2
    assert store.delete("J1") == 0


def test_vectors_are_stored_as_float32_bytes_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "chunks.sqlite3"
    put(ChunkStore(path), "J1", *make(2, dim=256))
    with sqlite3.connect(path) as conn:
        sizes = {row[0] for row in conn.execute("SELECT length(vector) FROM chunks")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert sizes == {256 * 4}
    assert mode == "wal"


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    return size


def test_a_new_store_has_big_pages_and_an_older_store_keeps_its_own(tmp_path: Path) -> None:
    new = tmp_path / "new.sqlite3"
    put(ChunkStore(new), "J1", *make(2))
    assert _page_size(new) == PAGE_SIZE > 4096

    # A store made by an earlier version: SQLite's default pages, already in WAL mode.
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    put(ChunkStore(old), "J1", *make(2, tag="before"))
    put(ChunkStore(old), "J2", *make(3, tag="after"))
    assert _page_size(old) == 4096
    assert [s.chunk.text for s in ChunkStore(old).load("J1")] == [
        "before chunk 0",
        "before chunk 1",
    ]
    assert ChunkStore(old).count("J2") == 3


def _write_many(path: str, worker: int) -> None:
    store = ChunkStore(path, busy_timeout_s=20)
    for round_ in range(15):
        put(store, f"job-{worker}", *make(20, tag=f"w{worker}r{round_}", dim=64))
        put(store, "shared-job", *make(10, tag=f"w{worker}r{round_}", dim=64))


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "chunks.sqlite3"
    ChunkStore(path)
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_write_many, args=(str(path), n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    store = ChunkStore(path)
    assert [store.count(f"job-{n}") for n in range(4)] == [20, 20, 20, 20]
    # The job every process rewrote holds exactly one writer's last version, never a mix.
    texts = [s.chunk.text for s in store.load("shared-job")]
    assert len(texts) == 10 and len({t.split()[0] for t in texts}) == 1


def _open_together(path: str, start: Any, errors: Any, hold_s: float) -> None:
    try:
        if hold_s:  # a process that has created the file and is writing it, in rollback mode
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE early (x)")
            start.wait()
            time.sleep(hold_s)
            conn.execute("COMMIT")
            conn.close()
        else:
            start.wait()
        put(ChunkStore(path, busy_timeout_s=20), "J", *make(3))
    except sqlite3.OperationalError as exc:
        errors.put(str(exc))
        raise


def test_processes_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    """A worker's pool processes open a fresh data directory's store together at their first
    jobs: none may fail with "database is locked" (switching to WAL takes no busy timeout)."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for round_ in range(6):
        path = str(tmp_path / f"fresh-{round_}.sqlite3")
        start = ctx.Barrier(4)
        # In the first rounds one process holds the new file's write lock for a moment, so the
        # others' switch to WAL surely meets it; in the others all four race.
        holds = [0.3 if round_ < 2 and n == 0 else 0.0 for n in range(4)]
        workers = [
            ctx.Process(target=_open_together, args=(path, start, errors, hold)) for hold in holds
        ]
        for process in workers:
            process.start()
        for process in workers:
            process.join(60)
        assert [p.exitcode for p in workers] == [0, 0, 0, 0], errors.get(timeout=1)
        assert ChunkStore(path).count("J") == 3


def test_rows_are_written_as_they_are_made_and_a_failure_midway_keeps_the_old_ones(
    tmp_path: Path,
) -> None:
    store = ChunkStore(tmp_path / "chunks.sqlite3")
    put(store, "J1", *make(2))
    chunks, vectors = make(50, tag="new")

    def made_then_cancelled() -> Iterator[tuple[Chunk, bytes]]:
        for chunk, vector in zip(chunks[:30], vectors, strict=False):
            yield chunk, array("f", vector).tobytes()
        raise RuntimeError("the job was cancelled while its rows were being made")

    with pytest.raises(RuntimeError):
        store.write("J1", made_then_cancelled())
    assert [s.chunk.text for s in store.load("J1")] == ["t chunk 0", "t chunk 1"]
    assert store.write("J1", zip(chunks, vectors, strict=True)) == 50  # floats are packed too
    assert [s.chunk for s in store.load("J1")] == chunks
    assert [s.vector for s in store.load("J1")] == vectors

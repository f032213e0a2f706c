"""Writing a long document's chunks into the SQLite store: a store made with the page size a
new one gets (store.PAGE_SIZE) against one made with SQLite's default 4 KB pages.

A split job's join writes the whole document in one transaction while the other worker
processes wait for it, so this write is part of what the split row's speed-up loses."""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from array import array
from pathlib import Path

from bench.options import Options
from bench.pdfs import line_text
from bench.report import Result
from docjobs.settings import Settings
from docjobs.tasks.chunk import Chunk
from docjobs.tasks.store import PAGE_SIZE, ChunkStore

TITLE = "chunk store write of a long document in one transaction, by page size"
ROUNDS = 7


def run(options: Options) -> Result:
    settings = Settings(_env_file=None)
    count = options.size(4000, 12000)  # the 1,000-page PDF's chunks; --full: 3,000 pages'
    rows = _rows(count, settings.chunk_chars, settings.embed_dim)
    result = Result("store", TITLE, options.command("store"))
    result.size = {"rows": count, "chunk_chars": settings.chunk_chars, "dim": settings.embed_dim}
    # 64 KB pages for the record: they write little faster than 16 KB, and every page a small
    # job touches is a 64 KB frame in the WAL.
    sizes = (PAGE_SIZE, 4096, 65536)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="docjobs-bench-store-") as tmp:
        for round_ in range(ROUNDS):  # interleaved, so a neighbour's load falls on all alike
            for page_size, seconds in times.items():
                store = _store(Path(tmp) / f"{page_size}.sqlite3", page_size)
                started = time.perf_counter()
                store.write(f"job-{round_}", rows)
                seconds.append(time.perf_counter() - started)
    ms = {size: [t * 1000 for t in times[size]] for size in sizes}
    base = {"baseline": statistics.median(ms[4096]), "baseline_what": "4 KB pages"}
    for size in (PAGE_SIZE, 65536):
        what = f"write, {size // 1024} KB pages{' (new stores)' if size == PAGE_SIZE else ''}"
        result.figure(f"{what}, median of {ROUNDS}", statistics.median(ms[size]), "ms", **base)
    for size in sizes:
        result.note(f"{size // 1024} KB: " + ", ".join(f"{t:.0f}" for t in ms[size]) + " ms")
    return result


def _store(path: Path, page_size: int) -> ChunkStore:
    """A store with `page_size` pages, made as ChunkStore makes one or as older versions did."""
    if not path.exists():
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA page_size={page_size}")
            conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
    return ChunkStore(path)


def _rows(count: int, chars: int, dim: int) -> list[tuple[Chunk, bytes]]:
    rng = random.Random(6)
    rows = []
    for i in range(count):
        text = " ".join(line_text(i // 4, line) for line in range(40))[:chars]
        vector = array("f", (rng.uniform(-1, 1) for _ in range(dim))).tobytes()
        rows.append((Chunk(i, text, i // 4 + 1, i // 4 + 1), vector))
    return rows

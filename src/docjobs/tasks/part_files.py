"""The downloaded PDF a worker process keeps while it runs parts of the same split job, so it
fetches each file once however many of its parts it runs (workers share no disk), and the
pypdf reader it last opened, so it parses that PDF's page tree and fonts once too. The job's
own task downloads into it as well: if it splits the job, its parts find the file there."""

from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pypdf
from celery.signals import worker_process_shutdown

from docjobs.tasks.extract_pypdf import ReaderCache

Key = tuple[str, int]  # (job id, attempt)


class PartFiles:
    """At most `keep` files, each in its own temp directory; the least recently used goes."""

    def __init__(self, *, keep: int = 2) -> None:
        self.keep = keep
        self._dirs: OrderedDict[Key, Path] = OrderedDict()
        self.readers = _Readers()

    def get(self, job_id: str, attempt: int, fetch: Callable[[Path], Path]) -> Path:
        """The job's file, fetched into a new directory by `fetch(dir)` if not here yet."""
        key = (job_id, attempt)
        path = self._path(key)
        if path is not None:
            self._dirs.move_to_end(key)
            return path
        directory = self._new_dir(key)
        try:
            fetch(directory)
        except BaseException:
            self.drop(job_id, attempt)
            raise
        found = self._path(key)
        assert found is not None, "fetch() left no file behind"
        return found

    def drop(self, job_id: str, attempt: int) -> None:
        directory = self._dirs.pop((job_id, attempt), None)
        if directory is not None:
            if self.readers.path is not None and directory in self.readers.path.parents:
                self.readers.clear()
            shutil.rmtree(directory, ignore_errors=True)

    def clear(self) -> None:
        for job_id, attempt in list(self._dirs):
            self.drop(job_id, attempt)

    def _new_dir(self, key: Key) -> Path:
        self.drop(*key)
        while len(self._dirs) >= self.keep:
            self.drop(*next(iter(self._dirs)))
        directory = Path(tempfile.mkdtemp(prefix=f"docjobs-{key[0]}-{key[1]}-"))
        self._dirs[key] = directory
        return directory

    def _path(self, key: Key) -> Path | None:
        directory = self._dirs.get(key)
        files = sorted(directory.iterdir()) if directory is not None and directory.exists() else []
        return files[0] if files else None


class _Readers(ReaderCache):
    """The reader cache, knowing which file its reader is of (so dropping another job's file
    keeps it)."""

    path: Path | None = None

    def open(self, path: Path) -> pypdf.PdfReader:
        self.path = path
        return super().open(path)

    def clear(self) -> None:
        self.path = None
        super().clear()


# One per worker process (made empty in each child, which never shares it).
part_files = PartFiles()


@worker_process_shutdown.connect
def _remove_part_files(**_: object) -> None:
    part_files.clear()

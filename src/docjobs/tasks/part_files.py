"""The downloaded PDF a worker process keeps while it runs parts of the same split job, so it
fetches each file once however many of its parts it runs, and the pypdf reader it last opened,
so it parses that PDF's page tree and fonts once too. The job's own task downloads into it as
well: if it splits the job, its parts find the file there.

The processes of one machine share their downloads: each keeps its files in a directory of
its own under one private root, and a process that needs a file another has finished links
it (a hard link) instead of fetching it from Slack again. Each still deletes only its own
directory; the file is gone once the last process holding a link lets go. A directory's name
holds its process's id, so a process starting up removes those of processes that died without
cleaning up (killed at the time limit, or by the OOM killer). Workers on other machines fetch
their own copy."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pypdf
from celery.signals import worker_process_init, worker_process_shutdown

from docjobs.tasks.extract_pypdf import ReaderCache

Key = tuple[str, int]  # (job id, attempt)

# A directory under the shared root is named JOB-ATTEMPT-SOURCE-PID-random (SOURCE: a hash of
# the file's URL; PID: the process that made it), with this suffix while it is being fetched
# into: other processes leave it alone until then.
_FETCHING = ".fetching"


def shared_root() -> Path | None:
    """This user's directory for downloads in the temp dir, made if need be; None if what is
    there is not a directory that only this user can use (then nothing is shared)."""
    root = Path(tempfile.gettempdir()) / f"docjobs-downloads-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(root)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return root if private and not info.st_mode & 0o077 else None


class PartFiles:
    """At most `keep` files, each in its own temp directory; the least recently used goes.
    `root`: where the processes of this machine keep theirs, to link each other's, or what
    finds it on first use (None: each directory apart, nothing shared)."""

    def __init__(
        self, *, keep: int = 2, root: Path | Callable[[], Path | None] | None = None
    ) -> None:
        self.keep = keep
        self._root = root
        self._dirs: OrderedDict[Key, Path] = OrderedDict()
        self.readers = _Readers()

    @property
    def root(self) -> Path | None:
        if callable(self._root):
            self._root = self._root()
        return self._root

    def get(self, job_id: str, attempt: int, fetch: Callable[[Path], Path], *, source: str) -> Path:
        """The job's file, fetched from `source` (its URL) into a new directory by
        `fetch(dir)` if not here yet. Another process's copy is taken only if it is of the
        same job, attempt and source: two deployments on one machine may share a job id."""
        key = (job_id, attempt)
        path = self._path(key)
        if path is not None:
            self._dirs.move_to_end(key)
            return path
        name = f"{job_id}-{attempt}-{hashlib.sha256(source.encode()).hexdigest()[:16]}-"
        directory = self._new_dir(key, name)
        try:
            if not self._link_finished(name, directory):
                fetch(directory)
            self._dirs[key] = self._finish(directory)
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

    def _new_dir(self, key: Key, name: str) -> Path:
        self.drop(*key)
        while len(self._dirs) >= self.keep:
            self.drop(*next(iter(self._dirs)))
        if self.root is None:
            directory = Path(tempfile.mkdtemp(prefix=f"docjobs-{name}"))
        else:
            prefix = f"{name}{os.getpid()}-"
            directory = Path(tempfile.mkdtemp(prefix=prefix, suffix=_FETCHING, dir=self.root))
        self._dirs[key] = directory
        return directory

    def _link_finished(self, name: str, directory: Path) -> bool:
        """Link into `directory` the file another process of this machine finished fetching
        under `name`, if one has; returns whether it did."""
        if self.root is None:
            return False
        for other in self.root.glob(f"{glob.escape(name)}*"):
            if other.name.endswith(_FETCHING):
                continue
            try:  # it may be dropped meanwhile: then look at the next, or fetch
                file = min(other.iterdir())
                os.link(file, directory / file.name)
            except (OSError, ValueError):
                continue
            return True
        return False

    def _finish(self, directory: Path) -> Path:
        """The directory under the name that tells other processes its file is whole."""
        if not directory.name.endswith(_FETCHING):
            return directory
        return directory.rename(directory.with_name(directory.name[: -len(_FETCHING)]))

    def sweep(self) -> int:
        """Remove the directories of this machine's processes that are gone; returns how many."""
        removed = 0
        for directory in self.root.iterdir() if self.root is not None else []:
            fields = directory.name.split("-")  # see _FETCHING: fields[3] is the PID
            if len(fields) > 4 and fields[3].isdigit() and not _alive(int(fields[3])):
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
        return removed

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


# One per worker process (made empty in each child, which shares only the root's files).
part_files = PartFiles(root=shared_root)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


@worker_process_init.connect
def _remove_dead_processes_files(**_: object) -> None:
    part_files.sweep()


@worker_process_shutdown.connect
def _remove_part_files(**_: object) -> None:
    part_files.clear()

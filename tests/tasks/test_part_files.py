"""The downloads a machine's worker processes keep for split jobs: fetched once per machine,
each process's copy its own to delete."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from docjobs.tasks.part_files import PartFiles, shared_root

URL = "https://files.slack.com/files-pri/T1-F1/download/report.pdf"


def fetcher(
    fetched: list[Path], content: bytes = b"%PDF-1.7 the job's file"
) -> Callable[[Path], Path]:
    def fetch(directory: Path) -> Path:
        fetched.append(directory)
        path = directory / "download-x.pdf"
        path.write_bytes(content)
        return path

    return fetch


def test_a_process_links_the_file_another_has_fetched(tmp_path: Path) -> None:
    first, second = PartFiles(root=tmp_path), PartFiles(root=tmp_path)
    fetched: list[Path] = []
    mine = first.get("JOB234", 1, fetcher(fetched), source=URL)
    theirs = second.get("JOB234", 1, fetcher(fetched), source=URL)

    assert len(fetched) == 1  # downloaded once
    assert theirs != mine and theirs.read_bytes() == mine.read_bytes()
    first.drop("JOB234", 1)  # the first process is done with it: the second still reads it
    assert not mine.exists() and theirs.read_bytes() == b"%PDF-1.7 the job's file"
    second.drop("JOB234", 1)
    assert list(tmp_path.iterdir()) == []


def test_another_attempt_job_or_file_is_fetched_anew(tmp_path: Path) -> None:
    first, second = PartFiles(root=tmp_path), PartFiles(root=tmp_path)
    fetched: list[Path] = []
    first.get("JOB234", 1, fetcher(fetched), source=URL)
    second.get("JOB234", 2, fetcher(fetched, b"%PDF- attempt 2"), source=URL)
    second.get("JOB235", 1, fetcher(fetched, b"%PDF- another job"), source=URL)
    # The same job id in another deployment on this machine: another file.
    other = PartFiles(root=tmp_path)
    got = other.get("JOB234", 1, fetcher(fetched, b"%PDF- theirs"), source=URL + "-other")
    assert len(fetched) == 4 and got.read_bytes() == b"%PDF- theirs"


def test_a_file_still_being_fetched_is_not_taken(tmp_path: Path) -> None:
    first, second = PartFiles(root=tmp_path), PartFiles(root=tmp_path)
    fetched: list[Path] = []
    seen: list[Path] = []

    def slow_fetch(directory: Path) -> Path:
        (directory / "download-x.pdf").write_bytes(b"%PDF- half")
        # Meanwhile another process wants it: it must not link a file not yet whole.
        seen.append(second.get("JOB234", 1, fetcher(fetched), source=URL))
        return directory / "download-x.pdf"

    first.get("JOB234", 1, slow_fetch, source=URL)
    assert len(fetched) == 1 and seen[0].read_bytes() == b"%PDF-1.7 the job's file"


def test_a_failed_fetch_leaves_nothing_to_link(tmp_path: Path) -> None:
    first, second = PartFiles(root=tmp_path), PartFiles(root=tmp_path)

    def failing(directory: Path) -> Path:
        (directory / "download-x.pdf").write_bytes(b"%PDF- cut short")
        raise ConnectionError("the download broke off")

    with pytest.raises(ConnectionError):
        first.get("JOB234", 1, failing, source=URL)
    assert list(tmp_path.iterdir()) == []
    fetched: list[Path] = []
    again = second.get("JOB234", 1, fetcher(fetched), source=URL)
    assert again.read_bytes().startswith(b"%PDF-1.7")
    assert len(fetched) == 1


def test_the_shared_root_is_private_or_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = shared_root()
    assert root is not None and root.parent == tmp_path and root.stat().st_mode & 0o777 == 0o700

    root.chmod(0o777)  # anyone could plant a file there
    assert shared_root() is None
    root.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    root.symlink_to(elsewhere)  # not a directory of its own
    assert shared_root() is None


def test_a_dead_process_s_files_are_swept_and_a_live_one_s_kept(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = PartFiles(root=tmp_path)
    dead.get("JOB234", 1, fetcher([]), source=URL)
    (left,) = tmp_path.iterdir()
    # As if made by the process that is gone (killed before it could clean up).
    fields = left.name.split("-")
    fields[3] = str(gone.pid)
    left.rename(tmp_path / "-".join(fields))
    live = PartFiles(root=tmp_path)
    kept = live.get("JOB235", 1, fetcher([]), source=URL)

    assert live.sweep() == 1
    assert [d.name for d in tmp_path.iterdir()] == [kept.parent.name]
    assert kept.read_bytes().startswith(b"%PDF-")

"""The machine a run is on, and how much of it other processes took while a benchmark ran
(on a shared box a busy neighbour moves every figure; the report says so rather than hide it)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def describe() -> dict[str, str]:
    """What BENCHMARKS.md records about the machine."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return {
        "code": code_state(),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "python": platform.python_version(),
    }


def code_state() -> str:
    """The commit measured, and how many files under src/ differed from it (others edit it).

    Of the code the run imports, which the system's processes import too: a clone that uses
    another checkout's virtualenv runs that checkout's `src/` (its editable install), not its
    own, unless PYTHONPATH names its own."""
    import docjobs

    repo = Path(docjobs.__file__).resolve().parents[2]
    here = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True
        ).stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line]
    state = f"{git('rev-parse', '--short', 'HEAD')} + {len(changed)} changed files under src/"
    return state if repo == here else f"{state} of {repo} (not this checkout's)"


def _busy_and_total_s() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def _own_cpu_s() -> float:
    """This process and every child it has waited for (their children folded in likewise)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class CpuMeter:
    """CPU time the whole machine spent busy during a benchmark, and how much was not ours."""

    started: float = 0.0
    busy0: float = 0.0
    total0: float = 0.0
    own0: float = 0.0

    def start(self) -> CpuMeter:
        self.started = time.monotonic()
        self.busy0, self.total0 = _busy_and_total_s()
        self.own0 = _own_cpu_s()
        return self

    def stop(self) -> dict[str, float]:
        busy, total = _busy_and_total_s()
        own = _own_cpu_s() - self.own0
        machine = total - self.total0  # CPU-seconds available across all cores
        others = max(0.0, (busy - self.busy0) - own)
        return {
            "wall_s": round(time.monotonic() - self.started, 1),
            "own_cpu_s": round(own, 1),
            "other_cpu_s": round(others, 1),
            "other_share": round(others / machine, 3) if machine else 0.0,
            "loadavg_end": float(Path("/proc/loadavg").read_text().split()[0]),
        }

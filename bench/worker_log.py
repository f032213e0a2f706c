"""Where a worker process's time goes, read from the worker's JSON log lines: per whole-document
task, the time before its pipeline starts (the handoff from the consumer, the job's lease and
running transition, the download, the split check), the pipeline itself, and the time after it
(the result POST, releasing the lease). Split jobs' part tasks are left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

_TASK = re.compile(r"Task docjobs\.process_job\[([\w-]+)\] (received|succeeded)")
_EXTRACTING = re.compile(r"job \w+: extracting ")
_DONE = re.compile(r"job \w+: \d+ pages, \d+ words, \d+ chunks in ")


@dataclass
class Stages:
    before: list[float] = field(default_factory=list)  # received → pipeline starts
    pipeline: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)  # pipeline done → task succeeded


def stages(log: str) -> Stages:
    received: dict[str, float] = {}
    marks: dict[int, dict[str, float]] = {}  # per pool process: the current task's marks
    found = Stages()
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(record["ts"].replace("Z", "+00:00")).timestamp()
        pid, msg = int(record.get("pid", 0)), str(record.get("msg", ""))
        current = marks.setdefault(pid, {})
        task = _TASK.search(msg)
        if task and task.group(2) == "received":
            received[task.group(1)] = at
        elif _EXTRACTING.search(msg):
            current["extracting"] = at
        elif _DONE.search(msg):
            current["done"] = at
        elif task:  # succeeded, logged by the pool process that ran it
            start = received.pop(task.group(1), None)
            if start is not None and {"extracting", "done"} <= current.keys():
                found.before.append(current["extracting"] - start)
                found.pipeline.append(current["done"] - current["extracting"])
                found.after.append(at - current["done"])
            current.clear()
    return found

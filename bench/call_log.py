"""The sandbox's log of Web API calls, per job (a job per channel) and against Slack's budgets.

File downloads, auth.test (once per process) and response_url posts are not Web API calls a
job makes and are left out; reactions are counted apart, as the issue's target excepts them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

NOT_PER_JOB = {"files.download", "auth.test", "response_url"}
REACTIONS = {"reactions.add", "reactions.remove"}
TIER3_PER_MINUTE = 50


@dataclass
class JobCalls:
    posts: int = 0
    edits: int = 0
    reactions: int = 0
    other: int = 0
    refused: int = 0  # answered 429
    no_reaction_removes: int = 0  # reactions.remove of a reaction that was not there
    edit_times: list[float] = field(default_factory=list)

    @property
    def counted(self) -> int:
        """Calls the issue's ≤ 4 counts: posts, edits and anything else but reactions."""
        return self.posts + self.edits + self.other

    def edit_gaps(self) -> list[float]:
        times = sorted(self.edit_times)
        return [b - a for a, b in zip(times, times[1:], strict=False)]


def by_channel(calls: list[dict[str, Any]]) -> dict[str, JobCalls]:
    jobs: dict[str, JobCalls] = {}
    for call in calls:
        method = call["method"]
        if method in NOT_PER_JOB or not call.get("channel"):
            continue
        job = jobs.setdefault(call["channel"], JobCalls())
        if call["status"] == 429:
            job.refused += 1
            continue
        if method in REACTIONS:
            job.reactions += 1
            if call.get("error") == "no_reaction":
                job.no_reaction_removes += 1
        elif method == "chat.postMessage":
            job.posts += 1
        elif method == "chat.update":
            job.edits += 1
            job.edit_times.append(float(call["at"]))
        else:
            job.other += 1
    return jobs


def busiest_minute(calls: list[dict[str, Any]], method: str) -> int:
    """Most calls of `method` Slack accepted in any 60 s window."""
    times = sorted(float(c["at"]) for c in calls if c["method"] == method and c["status"] != 429)
    window: deque[float] = deque()
    most = 0
    for at in times:
        window.append(at)
        while window[0] <= at - 60:
            window.popleft()
        most = max(most, len(window))
    return most

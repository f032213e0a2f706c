"""What a person sees of a share: the thread the sandbox shows, and whether it ended right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docjobs.bot.reporter import OUTCOME_KIND, PROGRESS_KIND


@dataclass
class Share:
    """One file shared by a person: where, and when the share request went out."""

    channel: str
    ts: str
    file_id: str
    filename: str
    shared_at: float


@dataclass
class Thread:
    """A share's thread as the sandbox shows it, boiled down to what the benchmarks judge."""

    share: Share
    raw: dict[str, Any]

    def bot_replies(self, kind: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.raw.get("replies", [])
            if m.get("bot_id") and (m.get("metadata") or {}).get("event_type") == kind
        ]

    @property
    def outcome(self) -> dict[str, Any] | None:
        replies = self.bot_replies(OUTCOME_KIND)
        return replies[0] if replies else None

    def posted_at(self, ts: str) -> float | None:
        for change in self.raw.get("history", []):
            if change.get("kind") == "posted" and change.get("ts") == ts:
                return float(change["at"])
        return None

    @property
    def job_id(self) -> str | None:
        outcome = self.outcome
        payload = ((outcome or {}).get("metadata") or {}).get("event_payload") or {}
        return payload.get("job_id")

    @property
    def last_change_at(self) -> float:
        return max((float(c["at"]) for c in self.raw.get("history", [])), default=0.0)

    @property
    def outcome_at(self) -> float | None:
        outcome = self.outcome
        return None if outcome is None else self.posted_at(outcome["ts"])

    def problems(self) -> list[str]:
        """Why this thread did not end right ([] if it did): one progress message showing
        done, one outcome reply after it saying done, the share marked with a check."""
        found = []
        progress, outcomes = self.bot_replies(PROGRESS_KIND), self.bot_replies(OUTCOME_KIND)
        if len(progress) != 1:
            found.append(f"{len(progress)} progress messages")
        if len(outcomes) != 1:
            found.append(f"{len(outcomes)} outcome replies")
        if progress and "done" not in progress[-1].get("text", ""):
            found.append(f"progress message ends as {progress[-1].get('text', '')[:60]!r}")
        if outcomes and not outcomes[0].get("text", "").startswith(":white_check_mark:"):
            found.append(f"outcome says {outcomes[0].get('text', '')[:60]!r}")
        if progress and outcomes and float(outcomes[0]["ts"]) < float(progress[0]["ts"]):
            found.append("outcome before the progress message")
        others = [
            m
            for m in self.raw.get("replies", [])
            if m.get("bot_id") and m not in progress and m not in outcomes
        ]
        if others:
            found.append(f"{len(others)} other bot replies")
        reactions = {r["name"] for r in self.raw.get("parent", {}).get("reactions", [])}
        if reactions != {"white_check_mark"}:
            found.append(f"reactions {sorted(reactions)}")
        return found

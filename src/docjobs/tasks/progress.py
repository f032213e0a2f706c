"""The small types the pipeline steps share: progress and cancel callbacks, and step weights."""

from __future__ import annotations

from collections.abc import Callable

# (step name, overall percent 0-100, human detail such as "page 37 of 120")
ProgressFn = Callable[[str, int, str], None]
# True once the job should stop; checked between pages and batches.
CancelFn = Callable[[], bool]

# Each step's share of the overall percent: extraction is where the time goes.
STEP_RANGES: dict[str, tuple[int, int]] = {
    "downloading": (0, 10),
    "extracting": (10, 70),
    "chunking": (70, 75),
    "embedding": (75, 95),
    "storing": (95, 100),
}
STEPS = tuple(STEP_RANGES)


def overall_percent(step: str, done: float, total: float) -> int:
    """The overall percent when `done` of `total` units of `step` are finished."""
    start, end = STEP_RANGES[step]
    fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
    return int(start + (end - start) * fraction)


def ignore_progress(step: str, percent: int, detail: str) -> None:
    """A ProgressFn that does nothing."""


def never_cancel() -> bool:
    """A CancelFn for callers that cannot cancel."""
    return False

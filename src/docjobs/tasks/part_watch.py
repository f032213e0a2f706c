"""A running part's view of its job: its pages read, reported as the job's one percent, and
whether it should stop (the job cancelled, failed or run again, or out of time)."""

from __future__ import annotations

import time
from collections.abc import Callable

from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.tasks.outcomes import out_of_time
from docjobs.tasks.progress import overall_percent
from docjobs.tasks.reporting import JobProgress
from docjobs.tasks.split_plan import SplitPlan

REPORT_INTERVAL_S = 0.5


class PartWatch:
    """Only the holder of the plan's progress lock writes the percent, computed from the pages
    read in all parts, so the percent a person sees never goes back.

    The job's parts share one time budget, the soft time limit, as the job would have had in
    one task: splitting makes a job finish sooner, not run longer."""

    def __init__(
        self,
        plan: SplitPlan,
        store: JobStore,
        settings: Settings,
        *,
        index: int,
        pages: int,
        still_ours: Callable[[], bool] | None = None,
    ) -> None:
        self.plan, self.store, self.settings = plan, store, settings
        self.index, self.pages = index, pages
        self.started = time.monotonic()
        self.budget_s = settings.task_soft_time_limit - plan.busy_s()
        self.checker = JobProgress(
            store,
            plan.job_id,
            plan.attempt,
            interval_s=settings.cancel_check_interval_s,
            still_ours=still_ours,
        )
        # Not at its first page: a part reports every REPORT_INTERVAL_S and when it is done
        # (each report is several Redis calls and an event the reporter handles, while the
        # reporter edits the thread every few seconds at most).
        self._last = self.started

    @property
    def cancelled(self) -> bool:
        return self.checker.cancelled

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def should_stop(self) -> bool:
        """True once the job is no longer this part's to work on; raises TooLarge when the
        job's time is up."""
        if self.elapsed_s > self.budget_s:
            raise out_of_time(self.settings)
        return self.checker.should_cancel()

    def on_page(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < REPORT_INTERVAL_S:
            return
        self._last = now
        pages_read, token = self.plan.record_pages(self.index, done)
        if token is None:
            return
        try:
            self.store.transition(
                self.plan.job_id,
                State.RUNNING,
                attempt=self.plan.attempt,
                fields={
                    "step": "extracting",
                    "percent": overall_percent("extracting", pages_read, self.pages),
                    "detail": f"page {pages_read} of {self.pages}",
                },
            )
        finally:
            self.plan.unlock(token)

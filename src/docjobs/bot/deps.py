"""What the listeners need, built once at start-up and handed to `register_listeners`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docjobs.bot.queue import JobQueue
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings

if TYPE_CHECKING:
    from docjobs.bot.jobs_command import JobsCommand
    from docjobs.bot.permissions import Permissions


@dataclass
class BotDeps:
    settings: Settings
    store: JobStore
    queue: JobQueue
    permissions: Permissions = field(init=False)
    jobs_command: JobsCommand = field(init=False)

    def __post_init__(self) -> None:
        from docjobs.bot.app import build_web_client
        from docjobs.bot.jobs_command import JobsCommand
        from docjobs.bot.permissions import Permissions
        from docjobs.bot.stats import collect_stats

        # users.info must answer inside Slack's 3 s window: a short timeout, then "no".
        self.permissions = Permissions(build_web_client(self.settings, timeout=2))
        self.jobs_command = JobsCommand(self, self.permissions, lambda: collect_stats(self.store))

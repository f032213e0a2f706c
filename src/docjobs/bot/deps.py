"""What the listeners need, built once at start-up and handed to `register_listeners`."""

from __future__ import annotations

from dataclasses import dataclass

from docjobs.bot.queue import JobQueue
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings


@dataclass
class BotDeps:
    settings: Settings
    store: JobStore
    queue: JobQueue

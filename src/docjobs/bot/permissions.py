"""Who may cancel or retry: the person who shared the file, or a workspace admin or owner."""

from __future__ import annotations

import logging
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from docjobs.jobs.model import Job

logger = logging.getLogger(__name__)


class Permissions:
    def __init__(self, client: WebClient, *, ttl_s: float = 300.0) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self._admins: dict[str, tuple[bool, float]] = {}

    def may_act(self, user_id: str, job: Job) -> bool:
        """Cancel or retry `job`: its sharer without asking Slack; anyone else if an admin."""
        return user_id == job.user or self.is_admin(user_id)

    def is_admin(self, user_id: str) -> bool:
        cached = self._admins.get(user_id)
        if cached and time.monotonic() - cached[1] < self.ttl_s:
            return cached[0]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except (SlackClientError, OSError):
            # Slack down or slow (the client's timeout is short: we answer within 3 s): refuse
            # this once rather than act for someone we could not check; not cached.
            logger.exception("users.info failed for %s; treating as not an admin", user_id)
            return False
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._admins[user_id] = (admin, time.monotonic())
        return admin

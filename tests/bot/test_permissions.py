"""Who may cancel or retry: the sharer, or whoever users.info says is an admin or owner."""

from __future__ import annotations

from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from docjobs.bot.permissions import Permissions
from docjobs.jobs.model import Job

JOB = Job(id="J7K2QX", channel="C1", thread_ts="1.0", file_id="F1", file_name="a.pdf", user="U0A")


class UsersInfo:
    """users.info from a table; a user missing from it makes Slack fail."""

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users = users
        self.asked: list[str] = []

    def users_info(self, *, user: str) -> dict[str, Any]:
        self.asked.append(user)
        if user not in self.users:
            raise SlackApiError("ratelimited", response={"ok": False, "error": "ratelimited"})
        return {"ok": True, "user": {"id": user, **self.users[user]}}


@pytest.mark.parametrize(
    ("flags", "allowed"),
    [
        ({}, False),
        ({"is_admin": True}, True),
        ({"is_owner": True}, True),
        ({"is_primary_owner": True}, True),
        ({"is_restricted": True}, False),
    ],
)
def test_admins_and_owners_may_act_on_anyones_job(flags: dict[str, bool], allowed: bool) -> None:
    permissions = Permissions(cast(WebClient, UsersInfo({"U0B": flags})))
    assert permissions.may_act("U0B", JOB) is allowed


def test_the_sharer_may_act_without_asking_slack() -> None:
    slack = UsersInfo({})
    assert Permissions(cast(WebClient, slack)).may_act("U0A", JOB)
    assert slack.asked == []


def test_an_answer_is_remembered_but_a_failed_lookup_is_not() -> None:
    slack = UsersInfo({"U0B": {"is_admin": True}})
    permissions = Permissions(cast(WebClient, slack))
    assert permissions.may_act("U0B", JOB) and permissions.may_act("U0B", JOB)
    assert not permissions.may_act("U0C", JOB) and not permissions.may_act("U0C", JOB)
    assert slack.asked == ["U0B", "U0C", "U0C"]

"""reactions.add and reactions.remove, by the bot, with Slack's `already_reacted` and
`no_reaction` for a second add or a remove of nothing."""

from __future__ import annotations

from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method


def _react(call: Call, *, add: bool) -> dict[str, Any]:
    message = call.message("timestamp")
    name = call.text("name").strip(":")
    if not name:
        raise SlackError("invalid_name")
    me = call.config.bot_user_id
    users = message.reactions.get(name, [])
    if add:
        if me in users:
            raise SlackError("already_reacted")
        message.reactions[name] = [*users, me]
    else:
        if me not in users:
            raise SlackError("no_reaction")
        users = [u for u in users if u != me]
        if users:
            message.reactions[name] = users
        else:
            del message.reactions[name]
    kind = "reaction_added" if add else "reaction_removed"
    call.workspace.record(message, kind, name=name, user=me, bot_id=call.config.bot_id)
    return {}


@method("reactions.add")
def add(call: Call) -> dict[str, Any]:
    return _react(call, add=True)


@method("reactions.remove")
def remove(call: Call) -> dict[str, Any]:
    return _react(call, add=False)

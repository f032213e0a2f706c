"""What the bot's answers to a command or a click show: a command's synchronous answer and
anything POSTed to a response_url — ephemeral to the user by default, posted in the channel
for `response_type: in_channel`, and for a click `replace_original` / `delete_original`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from docjobs.sandbox.delivery import Attempt
from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.chat import check_blocks
from docjobs.sandbox.models import Ephemeral
from docjobs.sandbox.state import ResponseTarget

if TYPE_CHECKING:
    from docjobs.sandbox.sandbox import Sandbox


class ResponseUrlError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def use_response_url(sandbox: Sandbox, response_id: str) -> ResponseTarget:
    """The target of a response_url, counting the use: 5 uses within 30 minutes."""
    config, ws = sandbox.config, sandbox.workspace
    with ws.lock:
        target = ws.responses.get(response_id)
        if target is None:
            raise ResponseUrlError("invalid_url")
        if time.time() - target.created > config.response_url_ttl_s:
            raise ResponseUrlError("expired_url")
        if target.uses >= config.response_url_uses:
            raise ResponseUrlError("used_url")
        target.uses += 1
        return target


def check_response(body: dict[str, Any]) -> None:
    """Raise Slack's error for a response_url body it would refuse: laid out as
    chat.postMessage lays out a message, so the same blocks are refused."""
    if _truthy(body.get("delete_original")):
        return
    if not body.get("text") and not body.get("blocks"):
        raise SlackError("no_text")
    check_blocks(body.get("blocks") or [])


def apply_response(
    sandbox: Sandbox, target: ResponseTarget, body: dict[str, Any], *, source: str
) -> str:
    """Show `body` as Slack would; a word for what was done."""
    ws = sandbox.workspace
    text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
    with ws.lock:
        if target.kind == "action" and target.message_ts:
            if _truthy(body.get("delete_original")):
                return _change_original(sandbox, target, delete=True)
            if _truthy(body.get("replace_original")):
                return _change_original(sandbox, target, text=text, blocks=blocks)
        thread_ts = body.get("thread_ts") or target.thread_ts
        if body.get("response_type") == "in_channel":
            message = sandbox.bot_message(
                channel=target.channel, text=text, blocks=blocks, thread_ts=thread_ts
            )
            sandbox.post(message)
            return "posted"
        ws.ephemerals.append(
            Ephemeral(
                ts=sandbox.ids.next_ts(),
                channel=target.channel,
                user=target.user,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                source=source,
            )
        )
        return "ephemeral"


def _change_original(
    sandbox: Sandbox, target: ResponseTarget, *, delete: bool = False, **content: Any
) -> str:
    ws = sandbox.workspace
    if target.is_ephemeral:
        for ephemeral in ws.ephemerals:
            if ephemeral.ts == target.message_ts and ephemeral.user == target.user:
                ephemeral.deleted = ephemeral.deleted or delete
                if not delete:
                    ephemeral.text, ephemeral.blocks = content["text"], content["blocks"]
                    ephemeral.edited = True
        return "deleted" if delete else "replaced"
    message = ws.find(target.channel, str(target.message_ts))
    if message is None:
        raise ResponseUrlError("message_not_found")
    if delete:
        sandbox.delete(message)
        return "deleted"
    sandbox.edit(message, by=sandbox.config.bot_user_id, **content)
    return "replaced"


def show_command_answer(
    sandbox: Sandbox, target: ResponseTarget, attempt: Attempt, *, command: str, timed_out: bool
) -> Any:
    """A command's HTTP answer: its JSON (or text) shown to the user; past the deadline or on
    an error the user sees Slack's error message instead. Returns the parsed answer."""
    if timed_out or attempt.reason is not None:
        code = "operation_timeout" if timed_out else "dispatch_failed"
        text = f'{command} failed with the error "{code}"'
        apply_response(sandbox, target, {"text": text}, source="slack_error")
        return None
    if not attempt.body.strip():
        return None
    answer: Any = attempt.body
    if "json" in attempt.content_type:
        try:
            answer = json.loads(attempt.body)
        except json.JSONDecodeError:
            return attempt.body
    body = answer if isinstance(answer, dict) else {"text": str(answer)}
    if body.get("text") or body.get("blocks"):
        apply_response(sandbox, target, body, source="command_answer")
    return answer


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")

"""Slash commands and button clicks: form-encoded, signed over the raw body, with Slack's
fields; the bot's synchronous answer and its response_url posts shown as Slack shows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.sandbox.conftest import ALICE, CHANNEL, SECRET, Bot, Running
from tests.sandbox.receiver import Received, Reply

BUTTONS = [
    {"type": "section", "block_id": "progress", "text": {"type": "mrkdwn", "text": "50%"}},
    {
        "type": "actions",
        "block_id": "job_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "job_cancel",
                "value": "abc123",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Cancel"},
            },
        ],
    },
]
JSON_REPLY = {"media_type": "application/json"}


def signed_over_raw_body(request: Received, secret: str = SECRET) -> bool:
    return SignatureVerifier(secret).is_valid(
        body=request.text,
        timestamp=request.headers["x-slack-request-timestamp"],
        signature=request.headers["x-slack-signature"],
    )


def seen_by_alice(sandbox: Running) -> list[dict[str, Any]]:
    return sandbox.control("GET", "ephemerals", params={"user": ALICE})  # type: ignore[no-any-return]


def test_a_slash_command_is_signed_form_data_and_its_answer_is_shown(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(Reply(body=json.dumps({"text": "2 jobs running"}), **JSON_REPLY))
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    outcome = sandbox.control(
        "POST",
        "command",
        json={"channel": CHANNEL, "user": ALICE, "command": "/jobs", "text": "status <abc> & c"},
    )
    assert (outcome["status"], outcome["timed_out"], outcome["json"]) == (
        200,
        False,
        {"text": "2 jobs running"},
    )
    [request] = bot.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "command=%2Fjobs" in request.text
    assert signed_over_raw_body(request) and not signed_over_raw_body(request, "other-secret")
    assert request.retry_num is None  # Slack never retries a command
    form = request.form()
    assert {k: form[k] for k in ("command", "text", "channel_id", "user_id", "team_id")} == {
        "command": "/jobs",
        "text": "status &lt;abc&gt; &amp; c",  # Slack escapes &, < and > in all text
        "channel_id": CHANNEL,
        "user_id": ALICE,
        "team_id": "T0SANDBOX",
    }
    assert set(form) >= {
        "token",
        "team_domain",
        "channel_name",
        "user_name",
        "api_app_id",
        "response_url",
        "trigger_id",
        "is_enterprise_install",
    }
    assert form["response_url"] == outcome["response_url"]
    assert [(e["text"], e["source"]) for e in seen_by_alice(sandbox)] == [
        ("2 jobs running", "command_answer")
    ]


def test_a_slow_command_times_out_and_the_user_sees_slacks_error(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(Reply(delay_s=0.6, body='{"text": "late"}', **JSON_REPLY))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, ack_timeout_s=0.3)
    outcome = sandbox.control("POST", "command", json={"channel": CHANNEL, "user": ALICE})
    assert outcome["timed_out"] is True and outcome["status"] is None
    [shown] = seen_by_alice(sandbox)
    assert "operation_timeout" in shown["text"] and shown["source"] == "slack_error"


def command_response_url(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> tuple[Running, str]:
    """A sandbox delivering to `receiver`, and the response_url of a /jobs typed there."""
    _, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    command = sandbox.control("POST", "command", json={"channel": CHANNEL, "user": ALICE})
    return sandbox, str(command["response_url"])


def test_response_url_answers_are_ephemeral_or_in_channel_and_limited(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    sandbox, url = command_response_url(receiver, start_sandbox)
    assert httpx.post(url, json={"text": "just you"}).json() == {"ok": True}
    httpx.post(url, json={"text": "everyone", "response_type": "in_channel"})
    assert [e["text"] for e in seen_by_alice(sandbox)] == ["just you"]
    [posted] = sandbox.slack.conversations_history(channel=CHANNEL)["messages"]
    assert (posted["text"], posted["bot_id"]) == ("everyone", "BSANDBOX")
    for _ in range(3):
        assert httpx.post(url, json={"text": "again"}).status_code == 200
    used = httpx.post(url, json={"text": "sixth"})
    assert used.status_code == 404 and used.json()["error"] == "used_url"


def test_response_url_refuses_what_chat_post_message_would(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    sandbox, url = command_response_url(receiver, start_sandbox)
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    refused = [
        ({"text": "hi", "blocks": "[]"}, "invalid_blocks"),  # a string, not a list
        ({"text": "hi", "blocks": [too_long]}, "invalid_blocks"),
        ({"text": "hi", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        ({"response_type": "ephemeral"}, "no_text"),
    ]
    for body, error in refused:
        answer = httpx.post(url, json=body)
        assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert seen_by_alice(sandbox) == []
    # Refused bodies do not use up the URL's five uses.
    for n in range(5):
        assert httpx.post(url, json={"text": f"answer {n}"}).status_code == 200


def test_a_click_sends_block_actions_and_response_url_can_replace_or_delete(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, echo_bot_messages=False)
    parent = sandbox.share()["ts"]
    progress = sandbox.slack.chat_postMessage(
        channel=CHANNEL, thread_ts=parent, text="50%", blocks=BUTTONS
    )["ts"]
    outcome = sandbox.control(
        "POST",
        "action",
        json={"channel": CHANNEL, "user": ALICE, "message_ts": progress, "action_id": "job_cancel"},
    )
    assert outcome["status"] == 200 and not outcome["timed_out"]
    [request] = [r for r in bot.requests if r.event_id is None]  # the one that is not an event
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert signed_over_raw_body(request) and not signed_over_raw_body(request, "other-secret")
    [(field, raw)] = parse_qsl(request.text)
    payload = json.loads(raw)
    assert field == "payload" and payload == outcome["payload"]
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": ALICE,
        "username": "u0alice",
        "name": "u0alice",
        "team_id": "T0SANDBOX",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": progress,
        "channel_id": CHANNEL,
        "is_ephemeral": False,
        "thread_ts": parent,
    }
    assert payload["channel"]["id"] == CHANNEL and payload["message"]["blocks"] == BUTTONS
    [act] = payload["actions"]
    assert (act["action_id"], act["block_id"], act["value"], act["type"]) == (
        "job_cancel",
        "job_actions",
        "abc123",
        "button",
    )
    url = payload["response_url"]
    httpx.post(url, json={"replace_original": True, "text": "cancelled"})
    thread = sandbox.thread(parent)
    assert thread["replies"][0]["text"] == "cancelled" and thread["replies"][0]["edited"]
    httpx.post(url, json={"delete_original": True})
    thread = sandbox.thread(parent)
    assert thread["replies"] == [] and thread["history"][-1]["kind"] == "deleted"
    missing = sandbox.http.post(
        f"{sandbox.url}/control/action",
        json={"channel": CHANNEL, "user": ALICE, "message_ts": parent, "action_id": "job_cancel"},
    )
    assert missing.status_code == 409  # no such button on the shared file's message


def test_a_click_on_an_ephemeral_message_carries_no_message(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    ts = sandbox.slack.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="50%", blocks=BUTTONS)[
        "message_ts"
    ]
    outcome = sandbox.control(
        "POST",
        "action",
        json={
            "channel": CHANNEL,
            "user": ALICE,
            "message_ts": ts,
            "action_id": "job_cancel",
            "value": "abc123",
        },
    )
    payload = outcome["payload"]
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    httpx.post(payload["response_url"], json={"replace_original": True, "text": "cancelled"})
    [shown] = seen_by_alice(sandbox)
    assert (shown["text"], shown["edited"]) == ("cancelled", True)
    assert bot.requests[-1].form().keys() == {"payload"}

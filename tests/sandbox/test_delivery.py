"""Events delivered as Slack delivers them: signed over the raw body, retried 3 times on a
non-2xx, a slow answer or a refused connection (X-Slack-Retry-Num 1..3 with the reason),
not retried after X-Slack-No-Retry, and duplicated on demand with the same event_id."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_sdk.signature import SignatureVerifier

from tests.sandbox.conftest import ALICE, CHANNEL, SECRET, Running
from tests.support.receiver import Receiver, Reply
from tests.support.servers import free_port, wait_until

Bot = tuple[Receiver, str]


def logged(sandbox: Running, count: int) -> list[dict[str, Any]]:
    """The delivery log once it has `count` entries (empty until then)."""
    log: list[dict[str, Any]] = sandbox.control("GET", "deliveries")
    return log if len(log) >= count else []


def test_a_share_delivers_a_signed_message_event_then_file_shared(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    shared = sandbox.share(thread_ts=None, text="see attached", wait=True)
    message, file_shared = bot.wait_for(2)
    assert [message.event_id, file_shared.event_id] == shared["event_ids"]
    envelope = message.json()
    assert (envelope["type"], envelope["team_id"], envelope["api_app_id"]) == (
        "event_callback",
        "T0SANDBOX",
        "A0SANDBOX",
    )
    assert envelope["event_id"].startswith("Ev") and envelope["event_time"] > 0
    assert envelope["authorizations"][0]["user_id"] == "UBOTSANDBOX"
    event = envelope["event"]
    assert (event["type"], event["subtype"], event["user"], event["channel"], event["ts"]) == (
        "message",
        "file_share",
        ALICE,
        CHANNEL,
        shared["ts"],
    )
    assert event["files"][0]["url_private"] == shared["file"]["url_private"]
    assert event["channel_type"] == "channel" and event["text"] == "see attached"
    assert file_shared.json()["event"] == {
        "type": "file_shared",
        "channel_id": CHANNEL,
        "file_id": shared["file_id"],
        "user_id": ALICE,
        "file": {"id": shared["file_id"]},
        "event_ts": file_shared.json()["event"]["event_ts"],
    }
    for received in (message, file_shared):
        assert received.signature_ok is True and received.retry_num is None
        headers = received.headers
        assert headers["content-type"] == "application/json"
        assert not SignatureVerifier("another-secret").is_valid(
            body=received.text,
            timestamp=headers["x-slack-request-timestamp"],
            signature=headers["x-slack-signature"],
        )
    deliveries = sandbox.control("GET", "deliveries")
    assert [(d["event_id"], d["retry_num"], d["status"]) for d in deliveries] == [
        (shared["event_ids"][0], 0, 200),
        (shared["event_ids"][1], 0, 200),
    ]


def test_a_500_is_retried_three_times_on_schedule(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(default=Reply(status=500))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.05, 0.2, 0.3))
    event_id = sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hello"}
    )["event_id"]
    attempts = bot.wait_for(4, event_id=event_id)
    assert [a.retry_num for a in attempts] == [None, 1, 2, 3]
    assert [a.headers.get("x-slack-retry-reason") for a in attempts] == [None] + ["http_error"] * 3
    gaps = [later.at - earlier.at for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.2 and gaps[2] >= 0.3
    assert all(a.signature_ok for a in attempts)  # each retry signed afresh
    time.sleep(0.4)
    assert len([r for r in bot.requests if r.event_id == event_id]) == 4  # and no more
    log = sandbox.control("GET", "deliveries", params={"event_id": event_id})
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (n, 500, "http_error") for n in range(4)
    ]


def test_a_slow_answer_counts_as_a_timeout_and_is_retried(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(Reply(delay_s=0.6), Reply(delay_s=0.6))  # then at once
    sandbox = start_sandbox(
        bot_endpoint_url=endpoint, ack_timeout_s=0.3, retry_delays=(0.0, 0.05, 0.05)
    )
    event_id = sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hi"}
    )["event_id"]
    attempts = bot.wait_for(3, event_id=event_id)
    assert [a.retry_num for a in attempts] == [None, 1, 2]
    assert [a.headers.get("x-slack-retry-reason") for a in attempts[1:]] == ["http_timeout"] * 2
    log = wait_until(lambda: logged(sandbox, 3))
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (0, None, "http_timeout"),
        (1, None, "http_timeout"),
        (2, 200, None),
    ]
    assert 300 <= log[0]["elapsed_ms"] < 600  # given up at the deadline, not at the answer


def test_no_retry_header_on_a_failure_stops_the_retries(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(default=Reply(status=404, headers={"X-Slack-No-Retry": "1"}))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.0, 0.0))
    event_id = sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hi", "wait": True}
    )["event_id"]
    time.sleep(0.3)
    assert [r.retry_num for r in bot.requests if r.event_id == event_id] == [None]
    [entry] = sandbox.control("GET", "deliveries")
    assert (entry["status"], entry["no_retry"]) == (404, True)


def test_redeliver_sends_acked_events_again_with_the_same_event_id(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    shared = sandbox.share(redeliver=2)
    attempts = bot.wait_for(3, event_id=shared["event_ids"][0])
    assert [a.retry_num for a in attempts] == [None, 1, 2]
    assert {a.json()["event"]["ts"] for a in attempts} == {shared["ts"]}
    assert len(bot.wait_for(1, event_id=shared["event_ids"][1])) == 1


def test_an_unreachable_bot_is_retried_as_connection_failed(
    start_sandbox: Callable[..., Running],
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/slack/events"
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.0, 0.0))
    sandbox.control("POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hi"})
    log = wait_until(lambda: logged(sandbox, 4))
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (n, None, "connection_failed") for n in range(4)
    ]


def test_the_bots_own_posts_and_edits_come_back_as_events(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, rate_limits=False)
    parent = sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hi", "wait": True}
    )["ts"]
    posted = sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="queued")
    sandbox.slack.chat_update(channel=CHANNEL, ts=posted["ts"], text="done")
    _, mine, changed = (r.json()["event"] for r in bot.wait_for(3))
    assert (mine["bot_id"], mine["user"], mine["thread_ts"], mine["parent_user_id"]) == (
        "BSANDBOX",
        "UBOTSANDBOX",
        parent,
        ALICE,
    )
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["text"] == "done" and changed["previous_message"]["text"] == "queued"


def test_without_echo_only_peoples_messages_are_delivered(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, echo_bot_messages=False)
    sandbox.slack.chat_postMessage(channel=CHANNEL, text="from the bot")
    sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": ALICE, "text": "hi", "wait": True}
    )
    time.sleep(0.2)
    assert [r.json()["event"].get("user") for r in bot.requests] == [ALICE]


def test_no_endpoint_delivers_nothing(start_sandbox: Callable[..., Running]) -> None:
    sandbox = start_sandbox(bot_endpoint_url=None)
    sandbox.share(wait=True)
    assert sandbox.control("GET", "deliveries") == []
    assert SECRET  # the receiver's secret is the config default

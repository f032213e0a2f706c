"""Events delivered as Slack delivers them: signed over the raw body, retried 3 times on a
non-2xx, a late answer, a refused connection or too many redirects (X-Slack-Retry-Num 1..3 with
the reason), never after a 2xx, not after X-Slack-No-Retry, and duplicated on demand with the
same event_id."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from tests.sandbox.conftest import ALICE, BOT_ID, BOT_USER, CHANNEL, SECRET, TOKEN, Bot, Running
from tests.sandbox.receiver import Reply
from tests.support.servers import free_port

PDF = b"%PDF-1.4\n% a tiny test file\n"


def test_a_share_delivers_a_signed_message_event_then_file_shared(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    shared = sandbox.share(PDF, text="see attached", wait=True)
    message, file_shared = bot.wait_for(2)
    assert [message.event_id, file_shared.event_id] == shared["event_ids"]
    envelope = message.json()
    assert (envelope["type"], envelope["team_id"], envelope["api_app_id"]) == (
        "event_callback",
        "T0SANDBOX",
        "A0SANDBOX",
    )
    assert envelope["event_id"].startswith("Ev") and envelope["event_time"] > 0
    assert envelope["authorizations"][0]["user_id"] == BOT_USER
    event = envelope["event"]
    assert (event["type"], event["subtype"], event["user"], event["channel"], event["ts"]) == (
        "message",
        "file_share",
        ALICE,
        CHANNEL,
        shared["ts"],
    )
    assert event["channel_type"] == "channel" and event["text"] == "see attached"
    [file] = event["files"]
    assert file["id"] == shared["file_id"] and file["mimetype"] == "application/pdf"
    assert (file["filetype"], file["size"], file["mode"]) == ("pdf", len(PDF), "hosted")
    assert file["url_private"].startswith(f"{sandbox.config.public_url}/files-pri/")
    assert file["url_private_download"].startswith(f"{sandbox.config.public_url}/files-pri/")
    download = httpx.get(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"})
    assert download.content == PDF
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
        assert SignatureVerifier(SECRET).is_valid(
            body=received.text,
            timestamp=headers["x-slack-request-timestamp"],
            signature=headers["x-slack-signature"],
        )
        assert not SignatureVerifier("another-secret").is_valid(
            body=received.text,
            timestamp=headers["x-slack-request-timestamp"],
            signature=headers["x-slack-signature"],
        )
    deliveries = sandbox.deliveries(2)
    assert [(d["event_id"], d["retry_num"], d["status"]) for d in deliveries] == [
        (shared["event_ids"][0], 0, 200),
        (shared["event_ids"][1], 0, 200),
    ]


def test_only_the_events_the_app_subscribes_to_are_delivered(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, bot_events=("message.channels",))
    shared = sandbox.share(PDF, wait=True)  # its file_shared twin is not subscribed to
    private = sandbox.say("in a private channel", channel="G0PRIVATE")
    said = sandbox.say("in public")
    [message, public] = bot.wait_for(2)
    assert [message.event_id, public.event_id] == [shared["event_ids"][0], said["event_id"]]
    sandbox.settled()
    assert [r.event_id for r in bot.requests] == [message.event_id, public.event_id]
    assert private["event_id"] not in {r.event_id for r in bot.requests}

    # Subscribing later (as an app's admin would) brings them from then on.
    sandbox.control("POST", "settings", json={"bot_events": ["*"]})
    again = sandbox.share(PDF, wait=True)
    assert [r.event_id for r in bot.wait_for(4)][2:] == again["event_ids"]


def test_a_shares_message_event_always_comes_before_its_file_shared(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, rate_limits=False)
    shares = [sandbox.share()["event_ids"] for _ in range(20)]  # not waiting for the bot
    bot.wait_for(40)
    arrived = [r.event_id for r in bot.requests]
    for message_id, file_shared_id in shares:
        assert arrived.index(message_id) < arrived.index(file_shared_id)


def test_a_500_is_retried_three_times_on_schedule_then_given_up(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(default=Reply(status=500))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.1, 0.2, 0.3))
    event_id = sandbox.say("hello", wait=True)["event_id"]
    assert sandbox.control("GET", "deliveries/pending") == {"pending": 1}  # retries to come
    sandbox.settled()  # not waiting on the bot: every retry has reached it by now
    attempts = bot.events(event_id)
    assert [a.retry_num for a in attempts] == [None, 1, 2, 3]
    assert [a.retry_reason for a in attempts] == [None, "http_error", "http_error", "http_error"]
    gaps = [later.at - earlier.at for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.3
    assert all(a.signature_ok for a in attempts)  # each retry signed afresh
    assert {a.json()["event"]["text"] for a in attempts} == {"hello"}
    log = sandbox.deliveries(4)
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (n, 500, "http_error") for n in range(4)
    ]


def test_a_slow_answer_is_a_timeout_and_retried_until_one_is_in_time(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(*[Reply(delay_s=0.8)] * 3)  # then at once
    sandbox = start_sandbox(
        bot_endpoint_url=endpoint, ack_timeout_s=0.4, retry_delays=(0.0, 0.05, 0.05)
    )
    event_id = sandbox.say()["event_id"]
    attempts = bot.wait_for(4, event_id=event_id)
    assert [a.retry_num for a in attempts] == [None, 1, 2, 3]
    assert [a.retry_reason for a in attempts[1:]] == ["http_timeout"] * 3
    log = sandbox.deliveries(4)
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (0, None, "http_timeout"),
        (1, None, "http_timeout"),
        (2, None, "http_timeout"),
        (3, 200, None),
    ]
    assert 400 <= log[0]["elapsed_ms"] < 800  # given up at the deadline, not at the answer
    sandbox.settled()
    assert len(bot.events(event_id)) == 4


def test_an_answer_that_finishes_after_the_deadline_is_a_timeout(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(Reply(body="okay", trickle_s=0.2))  # headers at once, the body in 0.8 s
    sandbox = start_sandbox(
        bot_endpoint_url=endpoint, ack_timeout_s=0.4, retry_delays=(0.0, 0.0, 0.0)
    )
    event_id = sandbox.say()["event_id"]
    _, retry = bot.wait_for(2, event_id=event_id)
    assert (retry.retry_num, retry.retry_reason) == (1, "http_timeout")
    log = sandbox.deliveries(2)
    assert [(d["retry_num"], d["reason"]) for d in log] == [(0, "http_timeout"), (1, None)]


def test_an_acked_event_is_never_retried(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(Reply(status=204, delay_s=0.1))  # any 2xx within the deadline is an ack
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.05, 0.1))
    event_id = sandbox.say()["event_id"]
    bot.wait_for(1, event_id=event_id)
    sandbox.settled()
    assert [r.retry_num for r in bot.events(event_id)] == [None]
    assert [(d["status"], d["reason"]) for d in sandbox.deliveries(1)] == [(204, None)]


def test_no_retry_header_on_a_failure_stops_the_retries(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(default=Reply(status=404, headers={"X-Slack-No-Retry": "1"}))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.0, 0.0))
    event_id = sandbox.say(wait=True)["event_id"]
    sandbox.settled()
    assert [r.retry_num for r in bot.events(event_id)] == [None]
    [entry] = sandbox.deliveries(1)
    assert (entry["status"], entry["no_retry"]) == (404, True)


def test_redeliver_sends_acked_events_again_with_the_same_event_id(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.05, 0.05))
    shared = sandbox.share(redeliver=2)
    attempts = bot.wait_for(3, event_id=shared["event_ids"][0])
    assert [a.retry_num for a in attempts] == [None, 1, 2]
    assert {a.json()["event"]["ts"] for a in attempts} == {shared["ts"]}
    sandbox.settled()
    assert len(bot.events(shared["event_ids"][0])) == 3  # N extra copies, no more
    assert len(bot.events(shared["event_ids"][1])) == 1  # file_shared once


def test_redirects_are_followed_twice_and_a_third_is_a_failure(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(
        Reply(status=301, headers={"Location": "/moved"}),
        Reply(status=302, headers={"Location": "/moved/again"}),
    )
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    event_id = sandbox.say(wait=True)["event_id"]
    hops = bot.wait_for(3)
    assert [(r.method, r.path) for r in hops] == [
        ("POST", "/slack/events"),
        ("POST", "/moved"),
        ("POST", "/moved/again"),
    ]
    assert all(r.event_id == event_id and r.signature_ok for r in hops)
    assert [(d["status"], d["reason"]) for d in sandbox.deliveries(1)] == [(200, None)]

    bot.answer(*[Reply(status=302, headers={"Location": "/elsewhere"})] * 3)
    event_id = sandbox.say(wait=True)["event_id"]
    retry = bot.wait_for(4, event_id=event_id)[-1]
    assert (retry.path, retry.retry_num, retry.retry_reason) == (
        "/slack/events",
        1,
        "too_many_redirects",
    )
    log = sandbox.control("GET", "deliveries", params={"event_id": event_id})
    assert [(d["retry_num"], d["reason"]) for d in log][:2] == [
        (0, "too_many_redirects"),
        (1, None),
    ]


def test_an_unreachable_bot_is_retried_as_connection_failed(
    start_sandbox: Callable[..., Running],
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/slack/events"
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.0, 0.0, 0.0))
    sandbox.say()
    log = sandbox.deliveries(4)
    assert [(d["retry_num"], d["status"], d["reason"]) for d in log] == [
        (n, None, "connection_failed") for n in range(4)
    ]


def test_reset_drops_the_retries_still_to_come(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    bot.answer(default=Reply(status=500))
    sandbox = start_sandbox(bot_endpoint_url=endpoint, retry_delays=(0.4, 0.4, 0.4))
    event_id = sandbox.say(wait=True)["event_id"]
    sandbox.control("POST", "reset")
    sandbox.settled()
    assert [r.retry_num for r in bot.events(event_id)] == [None]
    assert sandbox.control("GET", "deliveries") == []


def test_the_bots_own_posts_and_edits_come_back_as_events(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint, rate_limits=False)
    parent = sandbox.say(wait=True)["ts"]
    posted = sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="queued")
    sandbox.slack.chat_update(channel=CHANNEL, ts=posted["ts"], text="done")
    _, mine, changed = (r.json()["event"] for r in bot.wait_for(3))
    assert (mine["bot_id"], mine["user"], mine["thread_ts"], mine["parent_user_id"]) == (
        BOT_ID,
        BOT_USER,
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
    sandbox.say(wait=True)
    sandbox.settled()
    assert [r.json()["event"].get("user") for r in bot.requests] == [ALICE]


def test_no_endpoint_delivers_nothing(start_sandbox: Callable[..., Running]) -> None:
    sandbox = start_sandbox(bot_endpoint_url=None)
    sandbox.share(wait=True)
    sandbox.say(wait=True)
    assert sandbox.control("GET", "deliveries") == []


def test_a_channel_the_bot_was_removed_from_answers_not_in_channel_and_is_not_heard(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    slack = sandbox.slack
    shared = sandbox.share(PDF, wait=True)
    posted = slack.chat_postMessage(channel=CHANNEL, thread_ts=shared["ts"], text="queued")
    sandbox.settled()
    heard = len(bot.requests)
    sandbox.control("POST", f"channels/{CHANNEL}/remove_bot")

    for call, args in [
        (slack.chat_postMessage, {"channel": CHANNEL, "text": "again"}),
        (slack.chat_update, {"channel": CHANNEL, "ts": posted["ts"], "text": "50%"}),
        (slack.reactions_add, {"channel": CHANNEL, "timestamp": shared["ts"], "name": "eyes"}),
        (slack.conversations_replies, {"channel": CHANNEL, "ts": shared["ts"]}),
    ]:
        with pytest.raises(SlackApiError) as refused:
            call(**args)
        assert refused.value.response["error"] == "not_in_channel"
    # What people post there no longer reaches the bot; other channels are as before.
    sandbox.say("anyone?")
    sandbox.share(PDF)
    sandbox.share(PDF, channel="C0OTHER")
    sandbox.settled()
    events = [r.json()["event"] for r in bot.requests[heard:]]
    assert [e.get("channel") or e.get("channel_id") for e in events] == ["C0OTHER"] * 2
    assert slack.chat_postMessage(channel="C0OTHER", text="hello")["ok"]


def test_a_slack_connect_share_delivers_only_a_stub_of_the_file(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    shared = sandbox.share(PDF, stub=True, wait=True)
    [message] = bot.wait_for(1, event_id=shared["event_ids"][0])
    [stub] = message.json()["event"]["files"]
    assert stub == {
        "id": shared["file_id"],
        "mode": "file_access",
        "file_access": "check_file_info",
    }
    file = sandbox.slack.files_info(file=shared["file_id"])["file"]
    assert file["url_private"] == shared["file"]["url_private"] and file["name"] == "q3.pdf"


def test_one_share_carries_several_files_each_with_its_file_shared_event(
    receiver: Bot, start_sandbox: Callable[..., Running]
) -> None:
    """Slack lets a message carry up to 10 files: one `message` event names them all, then a
    `file_shared` event comes for each."""
    bot, endpoint = receiver
    sandbox = start_sandbox(bot_endpoint_url=endpoint)
    contents = [PDF + bytes([n]) for n in range(3)]
    files = [
        {"filename": f"part-{n}.pdf", "content_b64": base64.b64encode(content).decode()}
        for n, content in enumerate(contents)
    ]
    body = {"channel": CHANNEL, "user": ALICE, "text": "all three", "files": files}
    shared = sandbox.control("POST", "share", json={**body, "wait": True})
    message, *file_events = bot.wait_for(4)
    assert [message.event_id, *sorted(e.event_id for e in file_events)] == [
        shared["event_ids"][0],
        *sorted(shared["event_ids"][1:]),
    ]
    event = message.json()["event"]
    assert (
        [f["id"] for f in event["files"]]
        == shared["file_ids"]
        == [f["id"] for f in shared["files"]]
    )
    assert shared["file_id"] == shared["file_ids"][0] and event["ts"] == shared["ts"]
    assert sorted(e.json()["event"]["file_id"] for e in file_events) == sorted(shared["file_ids"])
    for file, content in zip(event["files"], contents, strict=True):
        download = httpx.get(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"})
        assert download.content == content
        info = sandbox.slack.files_info(file=file["id"])["file"]
        assert info["shares"]["public"][CHANNEL][0]["ts"] == shared["ts"]

    share_url = f"{sandbox.url}/control/share"
    too_many = sandbox.http.post(share_url, json={**body, "files": files * 4})
    assert too_many.status_code == 422
    both = sandbox.http.post(share_url, json={**body, "filename": "one.pdf"})
    assert both.status_code == 422
    neither = sandbox.http.post(share_url, json={"channel": CHANNEL, "user": ALICE})
    assert neither.status_code == 422

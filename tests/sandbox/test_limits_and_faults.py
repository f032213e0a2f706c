"""Slack's rate limits and faults on demand: 429 with Retry-After, 500, a hang past the
client's timeout — and in every case the refused call changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.sandbox.conftest import CHANNEL, Running
from tests.support.servers import wait_until


def refused(call: Callable[..., object], **kwargs: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call(**kwargs)
    return raised.value


def test_post_message_bursts_then_gets_429_with_retry_after_and_no_effect(
    start_sandbox: Callable[..., Running],
) -> None:
    sandbox = start_sandbox()
    parent = sandbox.share()["ts"]
    for n in range(3):  # a short burst is allowed
        sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text=f"reply {n}")
    error = refused(sandbox.slack.chat_postMessage, channel=CHANNEL, thread_ts=parent, text="x")
    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert re.fullmatch(r"[1-9][0-9]*", error.response.headers["Retry-After"])  # whole seconds
    # Per channel: another channel still has its burst.
    sandbox.slack.chat_postMessage(channel="C0OTHER", text="elsewhere")
    assert [r["text"] for r in sandbox.thread(parent)["replies"]] == [
        f"reply {n}" for n in range(3)
    ]
    log = sandbox.control("GET", "calls", params={"method": "chat.postMessage"})
    assert log["ratelimited"] == 1 and log["counts"] == {"chat.postMessage": 5}


def test_chat_update_is_tier_3_per_method_and_a_refused_update_changes_nothing(
    start_sandbox: Callable[..., Running],
) -> None:
    sandbox = start_sandbox()
    ts = sandbox.slack.chat_postMessage(channel=CHANNEL, text="queued")["ts"]
    for n in range(50):  # Tier 3: 50+ a minute, all at once if need be
        sandbox.slack.chat_update(channel=CHANNEL, ts=ts, text=f"{n}%")
    error = refused(sandbox.slack.chat_update, channel=CHANNEL, ts=ts, text="too many")
    assert error.response.status_code == 429 and error.response["error"] == "ratelimited"
    assert re.fullmatch(r"[1-9][0-9]*", error.response.headers["Retry-After"])
    [message] = sandbox.slack.conversations_history(channel=CHANNEL)["messages"]
    assert message["text"] == "49%"
    # Limits are per method: posting and reacting still work.
    sandbox.slack.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="still here")
    for _ in range(40):  # users.info is Tier 4: 100+ a minute
        sandbox.slack.users_info(user="U0CAROL")


def test_a_429_fault_has_retry_after_and_no_effect(sandbox: Running) -> None:
    ts = sandbox.share()["ts"]
    sandbox.control(
        "POST",
        "faults",
        json={"method": "reactions.add", "mode": "429", "count": 1, "retry_after": 7},
    )
    error = refused(sandbox.slack.reactions_add, channel=CHANNEL, timestamp=ts, name="eyes")
    assert error.response.status_code == 429 and error.response.headers["Retry-After"] == "7"
    assert sandbox.thread(ts)["parent"]["reactions"] == []
    sandbox.slack.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")  # count used up
    assert [r["name"] for r in sandbox.thread(ts)["parent"]["reactions"]] == ["eyes"]


def test_a_500_fault_on_every_method_has_no_effect_until_cleared(sandbox: Running) -> None:
    ts = sandbox.share()["ts"]
    sandbox.control("POST", "faults", json={"method": "*", "mode": "500"})
    error = refused(sandbox.slack.chat_postMessage, channel=CHANNEL, thread_ts=ts, text="x")
    assert error.response.status_code == 500
    sandbox.control("DELETE", "faults")
    sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="y")
    assert [r["text"] for r in sandbox.thread(ts)["replies"]] == ["y"]
    calls = sandbox.control("GET", "calls")["calls"]
    assert [(c["status"], c["fault"]) for c in calls] == [(500, "500"), (200, None)]


def test_a_timeout_fault_outlasts_the_client_and_has_no_effect(sandbox: Running) -> None:
    ts = sandbox.share()["ts"]
    sandbox.control(
        "POST",
        "faults",
        json={"method": "chat.update", "mode": "timeout", "count": 1, "sleep_s": 0.6},
    )
    posted = sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="queued")
    impatient = WebClient(
        token=sandbox.config.bot_token, base_url=sandbox.slack.base_url, timeout=0.3
    )
    with pytest.raises(TimeoutError):
        impatient.chat_update(channel=CHANNEL, ts=posted["ts"], text="50%")
    sandbox.slack.conversations_replies(channel=CHANNEL, ts=ts)  # the server kept serving
    # Once the held call is over on the server too, it has changed nothing.
    held = wait_until(lambda: sandbox.calls("chat.update")["calls"])
    assert [(c["status"], c["fault"]) for c in held] == [(500, "timeout")]
    [reply] = sandbox.thread(ts)["replies"]
    assert reply["text"] == "queued" and not reply["edited"]
    sandbox.slack.chat_update(channel=CHANNEL, ts=posted["ts"], text="50%")  # count used up
    assert sandbox.thread(ts)["replies"][0]["text"] == "50%"


def test_an_applied_fault_carries_the_call_out_and_still_answers_500(sandbox: Running) -> None:
    """Slack: a fatal_error may follow an operation that partly succeeded."""
    ts = sandbox.share()["ts"]
    fault = {"method": "chat.postMessage", "mode": "500_applied", "count": 1}
    sandbox.control("POST", "faults", json=fault)
    error = refused(sandbox.slack.chat_postMessage, channel=CHANNEL, thread_ts=ts, text="x")
    assert error.response.status_code == 500 and error.response["error"] == "fatal_error"
    assert [r["text"] for r in sandbox.thread(ts)["replies"]] == ["x"]  # it is there
    calls = sandbox.calls("chat.postMessage")["calls"]
    assert [(c["status"], c["fault"]) for c in calls] == [(500, "500_applied")]
    held = {"method": "chat.update", "mode": "timeout_applied", "count": 1, "sleep_s": 0.6}
    sandbox.control("POST", "faults", json=held)
    [posted] = sandbox.thread(ts)["replies"]
    impatient = WebClient(
        token=sandbox.config.bot_token, base_url=sandbox.slack.base_url, timeout=0.3
    )
    with pytest.raises(TimeoutError):
        impatient.chat_update(channel=CHANNEL, ts=posted["ts"], text="50%")
    assert sandbox.thread(ts)["replies"][0]["text"] == "50%"


def test_a_probability_fault_is_repeatable_with_a_seed(sandbox: Running) -> None:
    def pattern() -> list[int]:
        sandbox.control("DELETE", "faults")
        sandbox.control(
            "POST",
            "faults",
            json={"method": "auth.test", "mode": "500", "probability": 0.5, "seed": 42},
        )
        codes = []
        for _ in range(12):
            try:
                sandbox.slack.auth_test()
                codes.append(200)
            except SlackApiError as exc:
                codes.append(exc.response.status_code)
        return codes

    first = pattern()
    assert 200 in first and 500 in first
    assert pattern() == first

"""The bot's own pace for Slack calls, against the sandbox's model of Slack's limits."""

from __future__ import annotations

import pytest

from docjobs.bot.pacing import SlackPacer
from docjobs.sandbox import ratelimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_quick_jobs_outcome_reply_follows_its_progress_message_at_once() -> None:
    pacer = SlackPacer(per_minute={})
    assert pacer.wait_time("chat.postMessage", "C1", now=0.0) == 0  # progress message
    assert pacer.wait_time("chat.postMessage", "C1", now=0.05) == 0  # outcome reply
    # A third post in the same channel waits for Slack's pace; another channel does not.
    assert pacer.wait_time("chat.postMessage", "C1", now=0.1) == pytest.approx(0.9)
    assert pacer.wait_time("chat.postMessage", "C2", now=0.1) == 0


def test_posts_paced_by_the_bot_are_never_refused_by_slack() -> None:
    """A channel where the bot wants to post every 50 ms for a minute (a burst of shares)."""
    clock = Clock()
    slack = ratelimit.RateLimiter(clock=clock)
    pacer = SlackPacer(per_minute={})
    posted = 0
    for _ in range(1200):
        if pacer.wait_time("chat.postMessage", "C1", now=clock.now) == 0:
            assert slack.check("chat.postMessage", "C1") == 0, f"refused after {posted} posts"
            posted += 1
        clock.now += 0.05
    assert 60 <= posted <= 62  # one a second, plus the opening burst


def test_a_429_holds_the_method_back_for_as_long_as_slack_asked() -> None:
    pacer = SlackPacer(per_minute={"chat.update": 50})
    pacer.rate_limited("chat.update", 7, now=0.0)
    assert pacer.wait_time("chat.update", now=1.0) == pytest.approx(6.0)
    assert pacer.wait_time("chat.update", now=7.5) == 0


def test_asking_how_long_until_a_slot_takes_none() -> None:
    pacer = SlackPacer(per_minute={"reactions.add": 2})  # a burst of 1, then one per 30 s
    assert pacer.ready_in("reactions.add", now=100.0) == 0.0
    assert pacer.ready_in("reactions.add", now=100.0) == 0.0  # still free: nothing taken
    assert pacer.wait_time("reactions.add", now=100.0) == 0.0  # taken
    assert pacer.ready_in("reactions.add", now=100.0) == pytest.approx(30.0)
    assert pacer.ready_in("reactions.add", now=130.0) == 0.0

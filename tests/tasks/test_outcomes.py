"""How long a failed job waits before its next attempt (tasks/outcomes.py)."""

from __future__ import annotations

from docjobs.settings import Settings
from docjobs.tasks.celery_app import create_celery
from docjobs.tasks.outcomes import backoff_s


def test_a_servers_retry_after_is_kept_up_to_the_longest_wait_the_broker_allows() -> None:
    # Short time limits, so the visibility timeout may be short too: a countdown past
    # it would have Redis hand the task out again while it waits.
    settings = Settings(
        _env_file=None,
        redis_url="redis://127.0.0.1:1/0",  # never connected to: the app is only built
        task_soft_time_limit=60,
        task_time_limit=90,
        retry_backoff_max=120,
        visibility_timeout=150,
    )
    create_celery(settings, with_tasks=False)  # the settings pass the start-up check
    asked = {"base": settings.retry_backoff_base_s, "cap": float(settings.retry_backoff_max)}
    assert backoff_s(0, **asked, at_least=30.0) >= 30.0
    assert backoff_s(0, **asked, at_least=300.0) == 120.0 < settings.visibility_timeout
    assert all(1.0 <= backoff_s(0, **asked) <= 2.0 for _ in range(50))

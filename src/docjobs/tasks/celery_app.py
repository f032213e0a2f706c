"""The one Celery app. Built by a function, not at import, so settings are read when a
process starts (the zero-config run sets REDIS_URL for its children)."""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import worker_process_init

from docjobs.settings import Settings, get_settings

logger = logging.getLogger(__name__)

PROCESS_TASK = "docjobs.process_job"
DELIVER_TASK = "docjobs.deliver_result"


def create_celery(settings: Settings | None = None, *, with_tasks: bool = True) -> Celery:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set (docjobs run starts an embedded Redis for you)")
    # Settings checks that the visibility timeout exceeds the time limit and retry delays.
    app = Celery("docjobs", broker=settings.redis_url)
    transport = {"visibility_timeout": settings.visibility_timeout}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Take a message only when a process is free: nothing sits reserved in a worker that
        # could die with it (Redis would hold it back for a whole visibility timeout).
        worker_disable_prefetch=True,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        visibility_timeout=settings.visibility_timeout,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_soft_shutdown_timeout=10.0,
        worker_max_memory_per_child=600_000,  # KiB: recycle a child that grew on a big PDF
        worker_hijack_root_logger=False,
    )
    if with_tasks:
        from docjobs.tasks import heartbeat  # noqa: F401 - connects the worker signals
        from docjobs.tasks.process_job import register_tasks

        register_tasks(app)
    return app


@worker_process_init.connect
def _limit_child_memory(**_: object) -> None:
    """Each prefork child gets an address-space cap: a bomb raises MemoryError in the task."""
    from docjobs.tasks.limits import apply_memory_limit

    apply_memory_limit(get_settings().worker_memory_limit_mb)

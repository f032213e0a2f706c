"""Each long-running part of docjobs as a function the CLI (and `docjobs run`) can start."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from docjobs.settings import Settings

logger = logging.getLogger(__name__)


def run_web(settings: Settings) -> None:
    import uvicorn

    from docjobs.webhooks.app import WebCannotStart, create_app, describe_slack_endpoint

    try:
        app = create_app(settings)
    except WebCannotStart as exc:
        raise SystemExit(f"docjobs web: {exc}") from exc
    # uvicorn logs only warnings (below): this line is how an operator sees the mode.
    logger.info(
        "web service on http://%s:%d; Slack endpoint /slack/events %s",
        settings.web_host,
        settings.web_port,
        describe_slack_endpoint(settings),
    )
    uvicorn.run(
        app,
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        access_log=False,
    )


def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    from docjobs.tasks.celery_app import create_celery
    from docjobs.tasks.context import WorkerCannotStart, check_worker_can_start

    try:
        check_worker_can_start(settings)
    except WorkerCannotStart as exc:
        raise SystemExit(f"docjobs worker: {exc}") from exc
    app = create_celery(settings)
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--loglevel=INFO",
            "--task-events",
            f"--hostname=docjobs-{os.getpid()}@{socket.gethostname()}",
            "--without-mingle",
            "--without-gossip",
        ]
    )


def run_reporter(settings: Settings, *, stop: threading.Event | None = None) -> None:
    from docjobs.bot.app import build_web_client
    from docjobs.bot.pacing import SlackPacer
    from docjobs.bot.queue import JobQueue
    from docjobs.bot.reporter import Reporter
    from docjobs.bot.slack_calls import SlackCalls
    from docjobs.bot.sweeper import sweep
    from docjobs.jobs.connection import connect
    from docjobs.jobs.events import EventStream
    from docjobs.jobs.store import JobStore

    assert settings.redis_url, "REDIS_URL is required"
    client = connect(settings.redis_url)
    store = JobStore(client)
    queue = JobQueue(settings, store)
    per_minute = {
        "chat.update": settings.chat_update_per_minute,
        "reactions.add": 50,
        "reactions.remove": 50,
        "conversations.replies": 50,
    }
    reporter = Reporter(
        store=store,
        stream=EventStream(client),
        calls=SlackCalls(
            build_web_client(settings, timeout=settings.slack_timeout_s),
            SlackPacer(per_minute=per_minute),
        ),
        consumer=f"reporter-{socket.gethostname()}-{os.getpid()}",
        edit_interval_s=settings.progress_edit_interval_s,
        claim_after_s=settings.reporter_claim_after_s,
        sweep_interval_s=settings.sweep_interval_s,
        sweep=lambda: sweep(
            store,
            queue,
            requeue_after_s=settings.requeue_after_s,
            orphan_after_s=settings.orphan_after_s,
        ),
    )
    stop = stop or _stop_on_signals()
    logger.info("reporter %s started", reporter.consumer)
    try:
        reporter.run(stop)
    finally:
        queue.close()
        client.close()


def run_socket_mode_bot(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from docjobs.bot.app import build_bolt_app
    from docjobs.bot.deps import BotDeps
    from docjobs.bot.queue import JobQueue
    from docjobs.jobs.connection import connect
    from docjobs.jobs.store import JobStore

    if not settings.slack_app_token:
        raise SystemExit("SLACK_APP_TOKEN (xapp-…) is required for Socket Mode")
    assert settings.redis_url, "REDIS_URL is required"
    store = JobStore(connect(settings.redis_url))
    store.index_active_states()  # a store written by an older version lacks them
    app = build_bolt_app(BotDeps(settings=settings, store=store, queue=JobQueue(settings, store)))
    SocketModeHandler(app, settings.slack_app_token).start()


def run_sandbox(*, host: str, port: int, bot_endpoint: str) -> None:
    import uvicorn

    from docjobs.bot.listeners import BOT_EVENTS
    from docjobs.sandbox.app import create_app
    from docjobs.sandbox.config import SandboxConfig

    config = SandboxConfig(
        bot_endpoint_url=bot_endpoint, public_url=f"http://{host}:{port}", bot_events=BOT_EVENTS
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop

"""Every file of the corpus shared in Slack and run by a real prefork worker: the outcome a
person reads matches MANIFEST.tsv's kind, nothing is retried, and no worker process dies."""

from __future__ import annotations

import time
from pathlib import Path

from docjobs.settings import Settings
from tests.support.servers import wait_until
from tests.support.stack import Stack, bot_replies
from tests.tasks.test_corpus import ROWS, Row, expected_exit

# The stack runs without the DOCJOBS_ environment: its worker reads with the default engine.
ENGINE = Settings.model_fields["extract_engine"].default

DONE = ":white_check_mark: Done: "
FAILED = ":x: I could not process "
FAILURE_WORDS = {
    "encrypted": "password-protected",
    "corrupt": "damaged",
    "unsupported": "feature I cannot read",
}


def expected(row: Row) -> str:
    exit_code, reason_code = expected_exit(row, ENGINE)
    return DONE if exit_code == 0 else FAILURE_WORDS[reason_code]


def test_every_corpus_file_through_slack_and_a_real_worker(stack: Stack, corpus_dir: Path) -> None:
    pool_before = wait_until(lambda: len(stack.worker_children()) == 2 and stack.worker_children())
    pool_before = set(pool_before)
    shares = []
    for n, row in enumerate(ROWS):
        content = (corpus_dir / row.file).read_bytes()
        name = Path(row.file).name
        shared = stack.share(
            content, channel=f"CCORPUS{n % 8}", filename=name, mimetype="application/pdf"
        )
        shares.append((row, shared))
        time.sleep(0.05)
    for row, shared in shares:
        thread = stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=120)
        outcome = bot_replies(thread)[-1]["text"]
        want = expected(row)
        if want == DONE:
            assert outcome.startswith(DONE), (row.file, outcome)
        else:
            assert outcome.startswith(FAILED) and want in outcome, (row.file, outcome)
        assert "I tried" not in outcome, (row.file, outcome)
    assert stack.children["worker"].poll() is None
    assert set(stack.worker_children()) == pool_before  # no pool process died either

from __future__ import annotations

import pytest

from docjobs.jobs.ids import new_job_id, normalize_job_id
from docjobs.jobs.signing import sign, verify


def test_ids_are_short_and_unambiguous() -> None:
    ids = {new_job_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(i) == 6 and not set(i) & set("01OIL") for i in ids)


@pytest.mark.parametrize("typed", ["j7k2qx", "`J7K2QX`", " J7K2QX ", "job J7K2QX", "#j7k2qx"])
def test_ids_are_accepted_as_people_paste_them(typed: str) -> None:
    assert normalize_job_id(typed) == "J7K2QX"


@pytest.mark.parametrize("typed", ["", "J7K2Q", "J7K2QXX", "hello!", "J0K2QX"])
def test_not_an_id(typed: str) -> None:
    assert normalize_job_id(typed) is None


def test_signature_checks_body_secret_and_age() -> None:
    body = b'{"job_id":"J7K2QX"}'
    sig = sign("s3cret", body, 1000)
    assert verify("s3cret", body, "1000", sig, max_age_s=300, now=1100)
    assert not verify("other", body, "1000", sig, max_age_s=300, now=1100)
    assert not verify("s3cret", body + b" ", "1000", sig, max_age_s=300, now=1100)
    assert not verify("s3cret", body, "1000", sig, max_age_s=300, now=1400)
    assert not verify("s3cret", body, None, sig, max_age_s=300, now=1100)

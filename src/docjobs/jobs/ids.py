"""Short job ids people can read aloud and type: no 0/O, 1/I/L, so pasting and typing agree."""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ID_LENGTH = 6
_ID_RE = re.compile(rf"^[{ALPHABET}]{{{ID_LENGTH}}}$")


def new_job_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def normalize_job_id(text: str) -> str | None:
    """Accept ids as people paste them: any case, with backticks, `#` or `job` around them."""
    cleaned = text.strip().strip("`*_#").upper()
    if cleaned.startswith("JOB"):
        cleaned = cleaned[3:].lstrip(" :#-")
    return cleaned if _ID_RE.match(cleaned) else None

"""HMAC signatures on result POSTs: the same scheme as Slack's (timestamp + body, a replay
window), so a forged, altered or stale result is refused before it touches a job."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TIMESTAMP_HEADER = "X-Docjobs-Timestamp"
SIGNATURE_HEADER = "X-Docjobs-Signature"
# Unix seconds as `sign` writes them. ASCII digits of bounded length: a 309-digit number
# overflows the age check's float, and int() would also take "+1", " 1" and "١".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    base = f"v1:{timestamp}:".encode() + body
    return "v1=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    max_age_s: int,
    now: float | None = None,
) -> bool:
    # compare_digest raises on non-ASCII str; such a signature is simply not ours.
    if not timestamp or not signature or not signature.isascii():
        return False
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    ts = int(timestamp)
    if abs((now if now is not None else time.time()) - ts) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, body, ts), signature)

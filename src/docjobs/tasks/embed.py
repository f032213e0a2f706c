"""Embed step: text chunks to vectors, offline (feature hashing) or via an OpenAI-style API."""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import httpx

from docjobs.jobs.errors import EmbeddingRejected, EmbeddingUnavailable
from docjobs.settings import Settings
from docjobs.tasks.download import retry_after_seconds

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+")
_RETRY_STATUSES = {408, 409, 425, 429}


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> list[list[float]]: ...


class Vectors:
    """Vectors of one dimension packed as float32, one after another: 1 KB for 256 floats
    where a list of Python floats takes 8 KB, and already in the form the store writes."""

    def __init__(self, dim: int = 0, data: bytes = b"") -> None:
        self.dim = dim
        self.data = array("f")
        self.data.frombytes(data)
        if data and (dim <= 0 or len(self.data) % dim):
            raise ValueError(f"{len(self.data)} floats do not make vectors of {dim}")

    def __len__(self) -> int:
        return len(self.data) // self.dim if self.dim else 0

    def extend(self, vectors: Iterable[list[float]]) -> None:
        for vector in vectors:
            if not self.dim:
                self.dim = len(vector)
            if len(vector) != self.dim or not self.dim:
                raise ValueError(f"a vector of {len(vector)} floats among vectors of {self.dim}")
            self.data.fromlist(vector)

    def blob(self, i: int) -> bytes:
        """Vector `i` as the store keeps it."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.data[i * self.dim : (i + 1) * self.dim].tobytes()

    def tolist(self, i: int) -> list[float]:
        return self.data[i * self.dim : (i + 1) * self.dim].tolist()

    def tobytes(self) -> bytes:
        return self.data.tobytes()


class HashEmbedder:
    """Deterministic hashed bag of words (signed feature hashing, L2-normalised); no model."""

    # Where each word seen lands: a document repeats its words, so most are hashed once. The
    # memo is dropped whole once it holds this many (a few MB), and starts again.
    MEMO_WORDS = 50_000

    def __init__(self, dim: int = 256) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self._slots: dict[str, int] = {}  # word → its slot + 1, negative for a minus sign

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for token, count in Counter(_TOKEN.findall(text.lower())).items():
            signed = self._slots.get(token)
            if signed is None:
                signed = self._slot(token)
            if signed > 0:
                vector[signed - 1] += count
            else:
                vector[-signed - 1] -= count
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    def _slot(self, token: str) -> int:
        # blake2b, not hash(): the same word must land in the same slot in every process.
        value = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        slot = (value >> 1) % self.dim + 1
        signed = slot if value & 1 else -slot
        if len(self._slots) >= self.MEMO_WORDS:
            self._slots.clear()
        self._slots[token] = signed
        return signed


class HttpEmbedder:
    """An OpenAI-compatible `/v1/embeddings` endpoint, in batches, retrying what can pass."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        model: str,
        batch: int = 64,
        client: httpx.Client | None = None,
        max_attempts: int = 5,
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url, self.api_key, self.model = url, api_key, model
        self.batch = max(1, batch)
        self.client = client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        self.max_attempts = max(1, max_attempts)
        self.backoff_s, self.max_backoff_s, self.sleep = backoff_s, max_backoff_s, sleep

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for i in range(0, len(texts), self.batch):
            vectors.extend(self._embed_batch(texts[i : i + self.batch]))
        return vectors

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload = {"model": self.model, "input": texts}
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self.client.post(self.url, json=payload, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__} from the embedding service"
            else:
                if response.status_code < 400:
                    return _vectors(response, len(texts))
                if response.status_code not in _RETRY_STATUSES and response.status_code < 500:
                    raise EmbeddingRejected(
                        f"The embedding service refused the request "
                        f"(HTTP {response.status_code}: {_error_text(response)})."
                    )
                problem = f"HTTP {response.status_code} from the embedding service"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if retry_after is not None and retry_after > self.max_backoff_s:
                    # Longer than a pool process should sit idle: the job's own retry waits
                    # it out (its countdown honours retry_after) with the process free.
                    raise EmbeddingUnavailable(
                        f"{problem}; it asked to wait {retry_after:.0f}s.", retry_after=retry_after
                    )
            if attempt == self.max_attempts:
                raise EmbeddingUnavailable(f"{problem} after {attempt} attempts.")
            delay = self._delay(attempt, retry_after)
            logger.warning(
                "embedding attempt %d of %d failed (%s); retrying in %.1fs",
                attempt,
                self.max_attempts,
                problem,
                delay,
            )
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never sooner than the server asked."""
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        delay = random.uniform(backoff / 2, backoff)
        return max(delay, retry_after) if retry_after is not None else delay


def _vectors(response: httpx.Response, expected: int) -> list[list[float]]:
    try:
        data = response.json()["data"]
        rows = sorted(data, key=lambda row: row.get("index", 0))
        vectors = [[float(x) for x in row["embedding"]] for row in rows]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EmbeddingRejected(
            "The embedding service answered with something that is not an embeddings response."
        ) from exc
    if len(vectors) != expected:
        raise EmbeddingRejected(
            f"The embedding service returned {len(vectors)} vectors for {expected} texts."
        )
    return vectors


def _error_text(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or response.reason_phrase or "no detail")[:200]


def build_embedder(settings: Settings, *, client: httpx.Client | None = None) -> Embedder:
    """The embedder named by `settings.embedder`: "hash" (offline) or "openai"."""
    if settings.embedder == "hash":
        return HashEmbedder(settings.embed_dim)
    if settings.embedder in ("openai", "http"):
        return HttpEmbedder(
            settings.embed_url,
            settings.embed_api_key,
            settings.embed_model,
            batch=settings.embed_batch,
            client=client,
        )
    raise ValueError(f"unknown embedder {settings.embedder!r}; expected 'hash' or 'openai'")

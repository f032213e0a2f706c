"""Embedders: the offline hash embedder, and the HTTP one against httpx.MockTransport."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from docjobs.jobs.errors import EmbeddingRejected, EmbeddingUnavailable
from docjobs.settings import Settings
from docjobs.tasks.embed import HashEmbedder, HttpEmbedder, build_embedder

URL = "https://embeddings.example/v1/embeddings"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hash_vectors_have_the_dimension_and_unit_length() -> None:
    vectors = HashEmbedder(64).embed(["the harbor at night", "Copper, quartz and timber!"])
    assert [len(v) for v in vectors] == [64, 64]
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0) for v in vectors)


def test_hash_vectors_put_related_texts_closer_than_unrelated_ones() -> None:
    a, b, c = HashEmbedder(256).embed(
        [
            "invoice total due in thirty days for the harbor project",
            "the harbor project invoice: total due within thirty days",
            "glacier falcon orchard violet needle saddle",
        ]
    )
    assert cosine(a, b) > 0.6 > cosine(a, c) + 0.3


def test_hash_vectors_do_not_depend_on_the_process() -> None:
    # Python's hash() is salted per process; a worker and a searcher must agree.
    code = (
        "import json; from docjobs.tasks.embed import HashEmbedder; "
        "print(json.dumps(HashEmbedder(32).embed(['Quarterly figures, harbor project'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == HashEmbedder(32).embed(["Quarterly figures, harbor project"])


def test_hash_vectors_stay_those_stored_by_earlier_versions() -> None:
    # Chunks stored earlier must still match what is embedded now: a word's slot and sign
    # never change, whatever the embedder remembers of the words it has seen.
    text = "The harbor project: the figures, the Harbor plan."
    expected = [x / math.sqrt(26) for x in (0, 0, 3, 0, 0, 0, -1, -4)]
    forgetful = HashEmbedder(8)
    forgetful.MEMO_WORDS = 2  # drops what it remembers every two new words
    for embedder in (HashEmbedder(8), forgetful):
        assert embedder.embed([text, text.upper()]) == [pytest.approx(expected)] * 2


def test_empty_text_gives_a_zero_vector_not_nan() -> None:
    assert HashEmbedder(8).embed(["", "  ..."]) == [[0.0] * 8, [0.0] * 8]


def fake_api(
    replies: list[Callable[[httpx.Request], httpx.Response]],
) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose n-th request gets replies[n] (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return replies[min(len(seen), len(replies)) - 1](request)

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def embeddings(request: httpx.Request) -> httpx.Response:
    """An OpenAI-style answer, rows deliberately out of order; vector = [len(text), index]."""
    texts = json.loads(request.content)["input"]
    rows = [{"index": i, "embedding": [float(len(t)), float(i)]} for i, t in enumerate(texts)]
    return httpx.Response(200, json={"object": "list", "data": rows[::-1]})


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, headers=headers, json={"error": {"message": "no"}})


def embedder(client: httpx.Client, sleeps: list[float], **kw: object) -> HttpEmbedder:
    options: dict = {"batch": 2, "max_attempts": 4, **kw}
    return HttpEmbedder(
        URL, "sk-test", "text-embedding-3-small", client=client, sleep=sleeps.append, **options
    )


def test_http_embedder_batches_and_keeps_the_order() -> None:
    client, seen = fake_api([embeddings])
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]

    vectors = embedder(client, []).embed(texts)

    assert vectors == [[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]]
    assert [json.loads(r.content)["input"] for r in seen] == [
        ["a", "bb"],
        ["ccc", "dddd"],
        ["eeeee"],
    ]
    assert json.loads(seen[0].content)["model"] == "text-embedding-3-small"
    assert seen[0].headers["Authorization"] == "Bearer sk-test"


def test_rate_limit_waits_at_least_what_the_server_asks_then_succeeds() -> None:
    client, seen = fake_api([status(429, **{"Retry-After": "12"}), embeddings])
    sleeps: list[float] = []

    assert embedder(client, sleeps).embed(["x"]) == [[1.0, 0.0]]
    assert len(seen) == 2 and len(sleeps) == 1 and sleeps[0] >= 12


def test_a_long_retry_after_is_left_to_the_jobs_retry_without_holding_the_process() -> None:
    client, seen = fake_api([status(429, **{"Retry-After": "120"}), embeddings])
    sleeps: list[float] = []

    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(client, sleeps).embed(["x"])

    assert caught.value.retryable and caught.value.retry_after == 120
    assert "120s" in caught.value.detail
    assert len(seen) == 1 and sleeps == []


def test_server_errors_back_off_exponentially_then_give_up_retryably() -> None:
    client, seen = fake_api([status(503)])
    sleeps: list[float] = []

    with pytest.raises(EmbeddingUnavailable) as caught:
        embedder(client, sleeps, backoff_s=1.0).embed(["x"])

    assert caught.value.retryable and "503" in caught.value.detail
    assert len(seen) == 4
    # full-jitter halves: attempt n waits between 2**(n-1)/2 and 2**(n-1) seconds
    assert len(sleeps) == 3
    assert all(2**n / 2 <= s <= 2**n for n, s in enumerate(sleeps))


def test_timeouts_are_retried() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, seen = fake_api([timeout, timeout, embeddings])
    assert embedder(client, []).embed(["abc"]) == [[3.0, 0.0]]
    assert len(seen) == 3


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_a_refused_request_is_permanent_and_not_retried(code: int) -> None:
    client, seen = fake_api([status(code)])
    with pytest.raises(EmbeddingRejected) as caught:
        embedder(client, []).embed(["x"])
    assert not caught.value.retryable
    assert f"HTTP {code}" in caught.value.detail and "no" in caught.value.detail
    assert len(seen) == 1


def test_an_answer_that_is_not_embeddings_is_refused() -> None:
    client, _ = fake_api([lambda r: httpx.Response(200, text="<html>proxy login</html>")])
    with pytest.raises(EmbeddingRejected):
        embedder(client, []).embed(["x"])


def test_a_wrong_number_of_vectors_is_refused() -> None:
    client, _ = fake_api([lambda r: httpx.Response(200, json={"data": []})])
    with pytest.raises(EmbeddingRejected, match="0 vectors for 1"):
        embedder(client, []).embed(["x"])


def test_build_embedder_follows_the_settings() -> None:
    hashed = build_embedder(Settings(_env_file=None, embedder="hash", embed_dim=48))
    assert isinstance(hashed, HashEmbedder) and len(hashed.embed(["a"])[0]) == 48
    remote = build_embedder(
        Settings(_env_file=None, embedder="openai", embed_api_key="sk-test", embed_batch=7)
    )
    assert isinstance(remote, HttpEmbedder) and remote.batch == 7
    # Settings refuse an unknown name; built around them, build_embedder still does.
    with pytest.raises(ValueError, match="embedder"):
        build_embedder(Settings.model_construct(embedder="word2vec"))

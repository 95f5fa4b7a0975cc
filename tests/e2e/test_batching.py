"""Continuous batching through the HTTP server: a burst of concurrent streams, answers that do not depend on the
batch, n > 1 choices, prefix caching, and the /metrics endpoint that shows it all."""

import asyncio
import re
import time

import httpx
import openai

from conftest import SERVED_MODEL

BURST = 64
BURST_TOKENS = 8
GREEDY_MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]

# Every metric /metrics must expose (engines.md §2 item 14), by the name of one of its sample lines.
EXPECTED_SERIES = [
    "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
    "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:num_preemptions_total",
    "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total",
    "vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds_sum",
    "vllm:time_to_first_token_seconds_count", "vllm:inter_token_latency_seconds_bucket",
    "vllm:time_per_output_token_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
    "vllm:e2e_request_latency_seconds_sum", "vllm:e2e_request_latency_seconds_count",
]

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$')


def parse_metrics(text: str) -> dict[str, list[tuple[str, float]]]:
    """name -> [(labels, value)] for every sample line; fails on a line that is neither a comment nor a sample."""
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"malformed metrics line: {line!r}"
        out.setdefault(m.group(1), []).append((m.group(2), float(m.group(3))))
    return out


def metric(metrics: dict, name: str) -> float:
    """The sum of a metric's samples (one series for all but request_success_total)."""
    return sum(v for _, v in metrics[name])


def get_metrics(server) -> dict:
    r = httpx.get(server.url + "/metrics", timeout=30)
    assert r.status_code == 200
    return parse_metrics(r.text)


def settled_metrics(server, timeout: float = 60) -> dict:
    """/metrics once it shows no request running or waiting. The engine publishes its counters after the step that
    sent the last tokens, so a client can hold its answer a moment before /metrics counts it (vLLM records its
    metrics after each step too); a snapshot with nothing running was taken after that step."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = get_metrics(server)
        busy = metric(metrics, "vllm:num_requests_running") + metric(metrics, "vllm:num_requests_waiting")
        if busy == 0 or time.monotonic() > deadline:
            return metrics
        time.sleep(0.05)


def test_metrics_endpoint_exposes_vllm_names(server):
    r = httpx.get(server.url + "/metrics", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    metrics = parse_metrics(text)
    for name in EXPECTED_SERIES:
        assert name in metrics, f"{name} missing from /metrics:\n{text}"
        assert all(f'model_name="{SERVED_MODEL}"' in labels for labels, _ in metrics[name]), name
    for name, kind in [("vllm:num_requests_running", "gauge"), ("vllm:generation_tokens_total", "counter"),
                       ("vllm:e2e_request_latency_seconds", "histogram")]:
        assert f"# TYPE {name} {kind}" in text and f"# HELP {name} " in text
    assert 0.0 <= metric(metrics, "vllm:kv_cache_usage_perc") <= 1.0
    # Cumulative buckets end with +Inf == _count.
    buckets = metrics["vllm:e2e_request_latency_seconds_bucket"]
    assert 'le="+Inf"' in buckets[-1][0]
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert buckets[-1][1] == metric(metrics, "vllm:e2e_request_latency_seconds_count")


async def _stream_one(client: openai.AsyncOpenAI, messages, index: int) -> tuple[int, str, list[str]]:
    stream = await client.chat.completions.create(
        model=SERVED_MODEL, messages=messages, max_tokens=BURST_TOKENS, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True})
    text, finishes, usage, first_role = "", [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            assert choice.index == 0
            if first_role is None:
                first_role = choice.delta.role
            text += choice.delta.content or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    assert first_role == "assistant", index
    assert finishes == ["length"], (index, finishes)
    assert usage is not None and usage.completion_tokens == BURST_TOKENS, (index, usage)
    return index, text, finishes


async def _burst(server) -> tuple[list, int]:
    """64 concurrent streams while /metrics is polled; returns the results and the most running requests seen."""
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="EMPTY", max_retries=0, timeout=180,
                                http_client=httpx.AsyncClient(limits=httpx.Limits(max_connections=BURST + 8),
                                                              timeout=180))
    max_running = 0
    done = asyncio.Event()

    async def poll():
        nonlocal max_running
        async with httpx.AsyncClient(timeout=30) as http:
            while not done.is_set():
                r = await http.get(server.url + "/metrics")
                max_running = max(max_running, int(metric(parse_metrics(r.text), "vllm:num_requests_running")))
                await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    try:
        tasks = []
        for i in range(BURST):
            # Request 0 is the greedy reference prompt; the others differ, so the batch holds distinct sequences.
            messages = GREEDY_MESSAGES if i == 0 else [{"role": "user", "content": f"Say something about #{i}."}]
            tasks.append(_stream_one(client, messages, i))
        results = await asyncio.gather(*tasks)
    finally:
        done.set()
        await poller
        await client.close()
    return results, max_running


def test_concurrent_streams_batch_and_match_alone(server, client):
    alone = client.chat.completions.create(model=SERVED_MODEL, messages=GREEDY_MESSAGES, max_tokens=BURST_TOKENS,
                                           temperature=0, extra_body={"ignore_eos": True})
    before = settled_metrics(server)
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        log_start = len(f.read())
    start = time.monotonic()
    results, max_running = asyncio.run(_burst(server))
    elapsed = time.monotonic() - start
    after = settled_metrics(server)

    assert len(results) == BURST
    # Greedy answers do not depend on what else is in the batch.
    assert results[0][1] == alone.choices[0].message.content
    grown = metric(after, "vllm:generation_tokens_total") - metric(before, "vllm:generation_tokens_total")
    assert grown >= BURST * BURST_TOKENS
    assert metric(after, "vllm:request_success_total") - metric(before, "vllm:request_success_total") >= BURST
    # The engine ran several requests at once: seen on /metrics while the burst ran, and in the periodic stats
    # line ("Running: N reqs", every 5 s while busy) when the burst lasted long enough for one to appear.
    assert max_running > 1, max_running
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        burst_log = f.read()[log_start:]
    running = [int(n) for n in re.findall(r"Running: (\d+) reqs", burst_log)]
    if elapsed > 11:  # at least one full 5 s interval inside the burst, after a possible line at its very start
        assert running and max(running) > 1, (elapsed, running)


def test_n_choices_with_seed_are_reproducible(client):
    kwargs = dict(model=SERVED_MODEL, messages=[{"role": "user", "content": "Name a colour."}], n=4,
                  temperature=1.0, max_tokens=8, seed=77)
    a = client.chat.completions.create(**kwargs)
    b = client.chat.completions.create(**kwargs)
    assert [c.index for c in a.choices] == [0, 1, 2, 3]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert all(c.finish_reason in ("stop", "length") for c in a.choices)
    # The prompt is counted once, every choice's tokens are counted.
    single = client.chat.completions.create(**(kwargs | {"n": 1}))
    assert a.usage.prompt_tokens == single.usage.prompt_tokens
    assert a.usage.completion_tokens >= 4
    assert a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens


def test_n_greedy_choices_are_identical(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="The capital of France is", n=2, temperature=0,
                                  max_tokens=6)
    assert [c.index for c in r.choices] == [0, 1]
    assert r.choices[0].text == r.choices[1].text
    one = client.completions.create(model=SERVED_MODEL, prompt="The capital of France is", temperature=0,
                                    max_tokens=6)
    assert r.choices[0].text == one.choices[0].text
    assert r.usage.prompt_tokens == one.usage.prompt_tokens
    assert r.usage.completion_tokens == 2 * one.usage.completion_tokens


def test_n_choices_stream_interleaved(client):
    chunks = list(client.chat.completions.create(
        model=SERVED_MODEL, messages=[{"role": "user", "content": "Hi"}], n=3, temperature=0.8, seed=5,
        max_tokens=6, stream=True, stream_options={"include_usage": True}, extra_body={"ignore_eos": True}))
    roles = {c.choices[0].index for c in chunks if c.choices and c.choices[0].delta.role == "assistant"}
    assert roles == {0, 1, 2}
    finishes = [(c.choices[0].index, c.choices[0].finish_reason) for c in chunks
                if c.choices and c.choices[0].finish_reason]
    assert sorted(finishes) == [(0, "length"), (1, "length"), (2, "length")]
    # Every choice's role chunk precedes its content; nothing follows its finish chunk.
    seen_role, finished = set(), set()
    for c in chunks[:-1]:
        choice = c.choices[0]
        assert choice.index not in finished
        if choice.delta.role:
            seen_role.add(choice.index)
        else:
            assert choice.index in seen_role
        if choice.finish_reason:
            finished.add(choice.index)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 18


def test_shared_prefix_hits_the_cache(server, client):
    # A ~1,000-token prefix no earlier test sent, so the first request computes it cold.
    prefix = f"Log {time.time_ns()}: " + " ".join(f"item {i} is {i * 7 % 13}," for i in range(190))
    prompts = [prefix + " The sum of the first two items is", prefix + " The last item is"]
    kwargs = dict(model=SERVED_MODEL, temperature=0, max_tokens=8, extra_body={"ignore_eos": True})
    cold = client.completions.create(prompt=prompts[0], **kwargs)
    assert cold.usage.prompt_tokens >= 1000
    before = get_metrics(server)
    second = client.completions.create(prompt=prompts[1], **kwargs)  # shares the prefix's full blocks
    middle = get_metrics(server)
    hits = metric(middle, "vllm:prefix_cache_hits_total") - metric(before, "vllm:prefix_cache_hits_total")
    # Only the tail after the last shared full block (16 tokens) is computed: the rest comes from the cache.
    assert hits >= second.usage.prompt_tokens - 32, (hits, second.usage.prompt_tokens)
    assert metric(middle, "vllm:prefix_cache_queries_total") - metric(before, "vllm:prefix_cache_queries_total") == \
        second.usage.prompt_tokens
    warm = client.completions.create(prompt=prompts[0], **kwargs)  # the same prompt again: all but the last block
    after = get_metrics(server)
    assert metric(after, "vllm:prefix_cache_hits_total") - metric(middle, "vllm:prefix_cache_hits_total") >= \
        cold.usage.prompt_tokens - 16
    assert warm.choices[0].text == cold.choices[0].text

"""vLLM's request fields beyond OpenAI's (issue 17, item 6), through the official openai client and httpx:
allowed_token_ids, bad_words (tokenized as vLLM does, with the server's /tokenize, which test_tools and the
unit tier check against HF `tokenizers` on SmolLM2's tokenizer),
return_tokens_as_token_ids (and --return-tokens-as-token-ids), return_token_ids, priority with
--scheduling-policy priority (and the X-Vllm-Priority header), logits_processors (ignored, as vLLM V1),
--enable-prompt-tokens-details (cached_tokens, whole KV blocks) and --enable-force-include-usage."""

import os
import threading
import time

import httpx
import openai
import pytest

from conftest import SERVED_MODEL, error_of, start_server

PROMPT = "The capital of France is"
BLOCK_SIZE = 16
_tokenize_url = None


@pytest.fixture(autouse=True)
def _tokenizer_server(server):
    global _tokenize_url
    _tokenize_url = server.url


def encode(text: str) -> list[int]:
    r = httpx.post(_tokenize_url + "/tokenize", json={"prompt": text, "add_special_tokens": False}, timeout=60)
    return r.json()["tokens"]


def decode(ids: list[int]) -> str:
    return httpx.post(_tokenize_url + "/detokenize", json={"tokens": ids}, timeout=60).json()["prompt"]


def vllm_bad_words_ids(words: list[str]) -> list[list[int]]:
    """vLLM's SamplingParams.update_from_tokenizer: each word bare and after a space, the spaced form kept only
    when it starts with another token and has as many tokens as the bare one."""
    out: list[list[int]] = []
    for word in dict.fromkeys(words):
        for prefix_space in (False, True):
            ids = encode((" " if prefix_space else "") + word.lstrip())
            if not ids:
                continue
            if not prefix_space or (ids[0] != out[-1][0] and len(ids) == len(out[-1])):
                out.append(ids)
    return out


def completion(client: openai.OpenAI, **kw):
    args = dict(model=SERVED_MODEL, prompt=PROMPT, max_tokens=8, temperature=0)
    extra = kw.pop("extra_body", {})
    args.update(kw)
    return client.completions.create(**args, extra_body=extra)


# ---------------------------------------------------------------------------------------------------------------
# allowed_token_ids

def test_allowed_token_ids_restricts_sampling(client):
    free = completion(client, max_tokens=1, logprobs=5)
    top = list(free.choices[0].logprobs.top_logprobs[0].keys())
    assert len(top) >= 3
    # Forbid the greedy token: the answer is the best of the allowed ones, by the unconstrained logprobs.
    allowed = [encode(t)[0] for t in top[1:4]]
    r = completion(client, max_tokens=1, extra_body={"allowed_token_ids": allowed, "return_token_ids": True})
    assert r.choices[0].token_ids == [allowed[0]]
    # Sampled: every token is an allowed one.
    r = completion(client, max_tokens=12, temperature=1.0, seed=5,
                   extra_body={"allowed_token_ids": allowed, "return_token_ids": True, "ignore_eos": True})
    assert len(r.choices[0].token_ids) == 12
    assert set(r.choices[0].token_ids) <= set(allowed)


@pytest.mark.parametrize("ids, message", [
    ([], "allowed_token_ids is not None and empty!"),
    ([5, 10_000_000], "allowed_token_ids contains out-of-vocab token id!"),
])
def test_allowed_token_ids_errors(client, ids, message):
    with pytest.raises(openai.BadRequestError) as e:
        completion(client, extra_body={"allowed_token_ids": ids})
    assert error_of(e.value)["message"] == message


# ---------------------------------------------------------------------------------------------------------------
# bad_words

def test_bad_words_ban_the_last_token_after_its_prefix(client):
    free = completion(client, max_tokens=12, extra_body={"return_token_ids": True, "ignore_eos": True})
    words = free.choices[0].text.split()
    assert words, free.choices[0].text
    banned = [words[0], words[-1]]
    sequences = vllm_bad_words_ids(banned)
    r = client.chat.completions.create(model=SERVED_MODEL, messages=[{"role": "user", "content": PROMPT}],
                                       max_tokens=12, temperature=0,
                                       extra_body={"bad_words": banned, "return_token_ids": True})
    for ids in (completion(client, max_tokens=12, extra_body={"bad_words": banned, "return_token_ids": True,
                                                              "ignore_eos": True}).choices[0].token_ids,
                r.choices[0].token_ids):
        for seq in sequences:
            for i in range(len(ids)):
                # The banned token never follows its prefix among the generated tokens.
                assert ids[max(0, i - len(seq) + 1):i + 1] != seq or i + 1 < len(seq), (seq, ids)
    # The unconstrained answer starts with the first word's tokens: the constrained one cannot.
    assert completion(client, max_tokens=12, extra_body={"bad_words": banned, "ignore_eos": True}).choices[0].text \
        != free.choices[0].text


def test_bad_words_errors(client):
    with pytest.raises(openai.BadRequestError) as e:
        completion(client, extra_body={"bad_words": ["   "]})
    assert error_of(e.value)["message"] == "bad_words entries must tokenize to at least one token."
    # 200 distinct words give at least 200 token sequences; vLLM stops at the 129th.
    words = [f"word{i}" for i in range(200)]
    with pytest.raises(openai.BadRequestError) as e:
        completion(client, extra_body={"bad_words": words})
    assert error_of(e.value)["message"] == "Too many bad words after tokenization: 129. The max number is 128."
    # 64 words of one token each, bare and spaced: 128 sequences are still allowed.
    singles = [w for w in ("cat", "dog", "sun", "red", "blue", "tree", "car", "house") if len(encode(w)) == 1
               and len(encode(" " + w)) == 1]
    assert len(vllm_bad_words_ids(singles)) == 2 * len(singles)
    assert completion(client, max_tokens=2, extra_body={"bad_words": singles}).choices
    with pytest.raises(openai.BadRequestError):
        completion(client, extra_body={"bad_words": "not a list"})


# ---------------------------------------------------------------------------------------------------------------
# return_token_ids, return_tokens_as_token_ids

def test_return_token_ids_completions(client, raw):
    r = completion(client, n=2, temperature=1.0, seed=3, extra_body={"return_token_ids": True})
    prompt_ids = raw.post("/tokenize", json={"model": SERVED_MODEL, "prompt": PROMPT}).json()["tokens"]
    for c in r.choices:
        assert c.prompt_token_ids == prompt_ids
        assert len(c.token_ids) == r.usage.completion_tokens // 2 or c.finish_reason == "stop"
        assert decode(c.token_ids) == c.text
    plain = completion(client)
    assert getattr(plain.choices[0], "token_ids", None) is None  # only when asked


def test_return_token_ids_streams(client):
    full = completion(client, extra_body={"return_token_ids": True})
    stream = completion(client, stream=True, extra_body={"return_token_ids": True})
    chunks = [c for c in stream if c.choices]
    assert chunks[0].choices[0].prompt_token_ids == full.choices[0].prompt_token_ids
    assert all(getattr(c.choices[0], "prompt_token_ids", None) is None for c in chunks[1:])
    assert [t for c in chunks for t in c.choices[0].token_ids] == full.choices[0].token_ids

    messages = [{"role": "user", "content": PROMPT}]
    chat = client.chat.completions.create(model=SERVED_MODEL, messages=messages, max_tokens=8, temperature=0,
                                          extra_body={"return_token_ids": True})
    assert decode(chat.choices[0].token_ids) == chat.choices[0].message.content
    assert len(chat.prompt_token_ids) == chat.usage.prompt_tokens
    chunks = list(client.chat.completions.create(model=SERVED_MODEL, messages=messages, max_tokens=8,
                                                 temperature=0, stream=True,
                                                 extra_body={"return_token_ids": True}))
    assert chunks[0].prompt_token_ids == chat.prompt_token_ids  # on the role chunk only
    assert [t for c in chunks[1:] for t in (c.choices[0].token_ids or [])] == chat.choices[0].token_ids


def test_return_tokens_as_token_ids(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=[{"role": "user", "content": PROMPT}],
                                       max_tokens=4, temperature=0, logprobs=True, top_logprobs=2,
                                       extra_body={"return_tokens_as_token_ids": True, "return_token_ids": True})
    content = r.choices[0].logprobs.content
    assert [c.token for c in content] == [f"token_id:{t}" for t in r.choices[0].token_ids]
    for c in content:
        assert bytes(c.bytes) == c.token.encode()
        assert all(t.token.startswith("token_id:") for t in c.top_logprobs)
    r = completion(client, max_tokens=3, logprobs=1, extra_body={"return_tokens_as_token_ids": True,
                                                                  "return_token_ids": True})
    lp = r.choices[0].logprobs
    assert lp.tokens == [f"token_id:{t}" for t in r.choices[0].token_ids]
    assert lp.text_offset == [0, len(lp.tokens[0]), len(lp.tokens[0]) + len(lp.tokens[1])]  # vLLM counts these


# ---------------------------------------------------------------------------------------------------------------
# logits_processors: vLLM V1 has no per-request logits processors; the field is ignored with a warning.

def test_logits_processors_is_ignored(client, server):
    r = completion(client, max_tokens=2, extra_body={"logits_processors": ["my.module.Processor"]})
    assert r.choices[0].finish_reason in ("length", "stop")
    time.sleep(0.2)
    assert "'logits_processors'" in open(server.log_path).read()


# ---------------------------------------------------------------------------------------------------------------
# Server flags: --return-tokens-as-token-ids, --enable-prompt-tokens-details, --enable-force-include-usage

@pytest.fixture(scope="module")
def flags_server():
    srv = start_server(["--return-tokens-as-token-ids", "--enable-prompt-tokens-details",
                        "--enable-force-include-usage", "--block-size", str(BLOCK_SIZE)])
    yield srv
    srv.stop()


def test_server_token_ids_flag_and_request_override(flags_server):
    c = flags_server.client()
    r = completion(c, max_tokens=2, logprobs=0)
    assert all(t.startswith("token_id:") for t in r.choices[0].logprobs.tokens)
    r = completion(c, max_tokens=2, logprobs=0, extra_body={"return_tokens_as_token_ids": False})
    assert not any(t.startswith("token_id:") for t in r.choices[0].logprobs.tokens)


def test_cached_tokens_are_whole_blocks_of_the_prefix_cache(flags_server, server):
    c = flags_server.client()
    prompt = "A long prompt that no other test sends, about lighthouses and their keepers. " * 4
    first = completion(c, prompt=prompt, max_tokens=1)
    n = first.usage.prompt_tokens
    assert n > 2 * BLOCK_SIZE
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    second = completion(c, prompt=prompt, max_tokens=1)
    # vLLM: whole blocks only, at most prompt_len - 1 (the last prompt token is always computed).
    assert second.usage.prompt_tokens_details.cached_tokens == (n - 1) // BLOCK_SIZE * BLOCK_SIZE
    chat = c.chat.completions.create(model=SERVED_MODEL, messages=[{"role": "user", "content": prompt}],
                                     max_tokens=1)
    assert chat.usage.prompt_tokens_details.cached_tokens == 0
    # Without the flag the details are null, as vLLM's default.
    assert completion(server.client(), prompt=prompt, max_tokens=1).usage.prompt_tokens_details is None


def test_force_include_usage(flags_server, server):
    chunks = list(completion(flags_server.client(), max_tokens=3, stream=True))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens >= 0
    chunks = list(completion(server.client(), max_tokens=3, stream=True))
    assert all(c.usage is None for c in chunks)  # the default: usage only when stream_options asks


# ---------------------------------------------------------------------------------------------------------------
# priority

@pytest.mark.parametrize("policy", ["priority", "fcfs"])
def test_priority_orders_waiting_requests(policy):
    """One seat (--max-num-seqs 1): a streamed request holds it while a priority-5 and then a priority -5 request
    (the latter through the X-Vllm-Priority header, which wins over its body's 100) queue behind it; then the
    holder goes away. Under priority the later, lower value runs first; under fcfs arrival order stands."""
    srv = start_server(["--max-num-seqs", "1", "--scheduling-policy", policy])
    finished: list[str] = []
    release = threading.Event()
    metrics = lambda: httpx.get(srv.url + "/metrics", timeout=30).text  # noqa: E731
    gauge = lambda name, v: f'vllm:{name}{{model_name="{SERVED_MODEL}"}} {float(v)}\n' in metrics()  # noqa: E731

    def hold():
        body = {"model": SERVED_MODEL, "prompt": "holder", "max_tokens": 1500, "ignore_eos": True, "stream": True}
        with httpx.stream("POST", srv.url + "/v1/completions", json=body, timeout=300) as r:
            for _ in r.iter_lines():
                if release.is_set():
                    break  # the client goes away: the server aborts the request and frees the seat

    def run(name, priority, header=None):
        body = {"model": SERVED_MODEL, "prompt": f"{name}: one two three", "max_tokens": 4, "temperature": 0,
                "ignore_eos": True, "priority": priority}
        headers = {"X-Vllm-Priority": str(header)} if header is not None else {}
        r = httpx.post(srv.url + "/v1/completions", json=body, headers=headers, timeout=300)
        assert r.status_code == 200, r.text
        finished.append(name)

    def wait_for(name, value):
        deadline = time.monotonic() + 120
        while not gauge(name, value):
            assert time.monotonic() < deadline, metrics()
            time.sleep(0.02)

    try:
        holder = threading.Thread(target=hold)
        holder.start()
        wait_for("num_requests_running", 1)
        low = threading.Thread(target=run, args=("low", 5))
        low.start()
        wait_for("num_requests_waiting", 1)
        high = threading.Thread(target=run, args=("high", 100, -5))
        high.start()
        wait_for("num_requests_waiting", 2)
        release.set()
        for t in (holder, low, high):
            t.join(timeout=300)
        assert finished == (["high", "low"] if policy == "priority" else ["low", "high"])
    finally:
        release.set()
        srv.stop()

"""vLLM's sampling extras through the official client: logprobs in both shapes, prompt_logprobs, penalties,
logit_bias, and vLLM's 400s for out-of-range values."""

import math

import openai
import pytest

from conftest import SERVED_MODEL

CHAT = [{"role": "user", "content": "Write one short sentence about the sea."}]


def test_chat_logprobs_greedy(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=8,
                                       logprobs=True, top_logprobs=5)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 5
        tops = [t.logprob for t in entry.top_logprobs]
        assert tops == sorted(tops, reverse=True) and all(lp <= 0 for lp in tops)
        # Greedy: the chosen token is the most probable one.
        assert math.isclose(entry.logprob, tops[0], abs_tol=1e-5)
        assert entry.token == entry.top_logprobs[0].token
        assert entry.bytes == list(entry.token.encode()) or "\ufffd" in entry.token
    text = "".join(e.token for e in content)
    if "\ufffd" not in text:
        assert text == r.choices[0].message.content
    # logprobs without top_logprobs: the chosen token only.
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=3,
                                       logprobs=True)
    assert all(e.top_logprobs == [] for e in r.choices[0].logprobs.content)
    assert client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, max_tokens=2).choices[0].logprobs is None


def test_chat_logprobs_streamed(client):
    chunks = list(client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=6,
                                                 logprobs=True, top_logprobs=2, stream=True,
                                                 extra_body={"ignore_eos": True}))
    entries = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert len(entries) == 6
    assert all(len(e.top_logprobs) == 2 for e in entries)


def test_completion_logprobs_legacy_shape(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="The capital of France is", temperature=0,
                                  max_tokens=6, logprobs=3, extra_body={"ignore_eos": True})
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.text_offset) == len(lp.top_logprobs) == 6
    assert lp.text_offset[0] == 0
    for i in range(1, 6):
        assert lp.text_offset[i] == lp.text_offset[i - 1] + len(lp.tokens[i - 1])
    for token, token_lp, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert token_lp <= 0 and 1 <= len(top) <= 3  # greedy: the chosen token is one of the top 3
        assert math.isclose(top[token], token_lp, abs_tol=1e-5)
        assert math.isclose(max(top.values()), token_lp, abs_tol=1e-5)
    if "\ufffd" not in "".join(lp.tokens):
        assert "".join(lp.tokens) == r.choices[0].text


def test_prompt_logprobs(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="The capital of France is Paris", max_tokens=1,
                                  temperature=0, extra_body={"prompt_logprobs": 2})
    prompt_lps = r.choices[0].model_extra["prompt_logprobs"]
    assert len(prompt_lps) == r.usage.prompt_tokens and prompt_lps[0] is None
    for position in prompt_lps[1:]:
        assert 1 <= len(position) <= 3  # the prompt token itself plus the top 2
        for token_id, entry in position.items():
            assert int(token_id) >= 0
            assert set(entry) == {"logprob", "rank", "decoded_token"}
            assert entry["logprob"] <= 0 and entry["rank"] >= 1
    # Each position's first entry is the prompt token itself.
    assert "".join(next(iter(p.values()))["decoded_token"] for p in prompt_lps[1:]).endswith(
        " capital of France is Paris")
    chat = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, max_tokens=1,
                                          extra_body={"prompt_logprobs": 0})
    chat_lps = chat.model_extra["prompt_logprobs"]
    assert len(chat_lps) == chat.usage.prompt_tokens and chat_lps[0] is None
    assert all(len(p) == 1 for p in chat_lps[1:])


def test_penalties_are_accepted(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, max_tokens=8, temperature=0.7, seed=3,
                                       presence_penalty=0.5, frequency_penalty=0.5,
                                       extra_body={"repetition_penalty": 1.1, "min_p": 0.05, "top_k": 20})
    assert r.choices[0].finish_reason in ("stop", "length")
    r = client.completions.create(model=SERVED_MODEL, prompt="one one one one", max_tokens=8, temperature=0,
                                  frequency_penalty=2.0, extra_body={"repetition_penalty": 2.0})
    assert r.choices[0].finish_reason in ("stop", "length")


def test_logit_bias_forces_a_token(client):
    token_id = 504
    # The token's text, from prompt_logprobs of a prompt that repeats it.
    probe = client.completions.create(model=SERVED_MODEL, prompt=[token_id, token_id], max_tokens=1,
                                      extra_body={"prompt_logprobs": 0})
    token_text = probe.choices[0].model_extra["prompt_logprobs"][1][str(token_id)]["decoded_token"]
    r = client.completions.create(model=SERVED_MODEL, prompt="The capital of France is", temperature=0,
                                  max_tokens=4, logit_bias={str(token_id): 100}, logprobs=0,
                                  extra_body={"ignore_eos": True})
    assert r.choices[0].logprobs.tokens == [token_text] * 4
    assert r.choices[0].text == token_text * 4
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=3,
                                       logit_bias={str(token_id): 100}, extra_body={"ignore_eos": True})
    assert r.choices[0].message.content == token_text * 3


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.body
    assert isinstance(body, dict), body
    return body.get("error", body)


@pytest.mark.parametrize("endpoint,kwargs,param", [
    ("chat", {"n": 0}, "n"),
    ("completions", {"n": 3, "best_of": 2}, "best_of"),
    ("chat", {"top_logprobs": 2}, "top_logprobs"),
    ("chat", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ("completions", {"logprobs": 21}, "logprobs"),
    ("completions", {"stream": True, "extra_body": {"prompt_logprobs": 1}}, "prompt_logprobs"),
    ("chat", {"stream": True, "extra_body": {"prompt_logprobs": 1}}, "prompt_logprobs"),
    ("completions", {"stream": True, "best_of": 3}, "best_of"),
    ("completions", {"extra_body": {"prompt_logprobs": 21}}, "prompt_logprobs"),
    ("chat", {"logit_bias": {"99999999": 5}}, "logit_bias"),
    ("completions", {"logit_bias": {"-3": 5}}, "logit_bias"),
    ("chat", {"extra_body": {"min_p": 2}}, "min_p"),
    ("chat", {"presence_penalty": 3}, "presence_penalty"),
    ("completions", {"frequency_penalty": -2.5}, "frequency_penalty"),
    ("chat", {"extra_body": {"repetition_penalty": 0}}, "repetition_penalty"),
    # vLLM's refusals of beam search: completions cannot stream it, nor echo with logprobs.
    ("completions", {"stream": True, "extra_body": {"use_beam_search": True}}, None),
    ("completions", {"echo": True, "logprobs": 1, "extra_body": {"use_beam_search": True}}, "echo"),
])
def test_bad_sampling_values_are_400(client, endpoint, kwargs, param):
    with pytest.raises(openai.BadRequestError) as info:
        if endpoint == "chat":
            client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, max_tokens=2, **kwargs)
        else:
            client.completions.create(model=SERVED_MODEL, prompt="Hi", max_tokens=2, **kwargs)
    err = error_of(info.value)
    assert err["param"] == param, err
    assert err["code"] == 400

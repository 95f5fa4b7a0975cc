"""Beam search (vLLM's `use_beam_search`, in extra_body) through the official client on SmolLM2. Width 1 is greedy
decoding; wider, the n choices are distinct beams sorted by vLLM's score (get_beam_search_score in
vllm/entrypoints/generate/beam_search/utils.py, restated: cumulative logprob / (prompt + output tokens, less a
final EOS) ** length_penalty), where each beam's cumulative logprob is the sum of the token logprobs the response
carries. The engine test (tests/model/beam_search_test.cpp) checks the beams themselves against vLLM's code."""

import openai

from conftest import SERVED_MODEL

CHAT = [{"role": "user", "content": "Name a fruit."}]
PROMPT = "The capital of France is"


def score(entries, finish_reason, prompt_tokens, length_penalty):
    cumulative = sum(e.logprob for e in entries)
    length = prompt_tokens + len(entries) - (1 if finish_reason == "stop" else 0)
    return cumulative / max(length, 1) ** length_penalty


def test_width_one_is_greedy(client):
    greedy = client.completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=8, temperature=0,
                                       extra_body={"ignore_eos": True})
    beam = client.completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=8, temperature=0, n=1,
                                     extra_body={"use_beam_search": True, "ignore_eos": True})
    assert beam.choices[0].text == greedy.choices[0].text
    assert beam.choices[0].finish_reason == "length"
    assert beam.usage.completion_tokens == 8


def test_chat_beams_sorted_by_vllm_score(client):
    for length_penalty in (1.0, 0.0):
        r = client.chat.completions.create(
            model=SERVED_MODEL, messages=CHAT, max_tokens=10, n=3, temperature=0, logprobs=True,
            extra_body={"use_beam_search": True, "length_penalty": length_penalty, "early_stopping": True,
                        "include_stop_str_in_output": True})
        assert [c.index for c in r.choices] == [0, 1, 2]
        beams = [tuple(e.token for e in c.logprobs.content) for c in r.choices]
        assert len(set(beams)) == 3, beams
        scores = [score(c.logprobs.content, c.finish_reason, r.usage.prompt_tokens, length_penalty)
                  for c in r.choices]
        # (the response's logprobs are float32: allow their rounding between near-equal scores)
        assert all(a >= b - 1e-4 for a, b in zip(scores, scores[1:])), scores
        for c in r.choices:
            assert c.finish_reason in ("stop", "length")
            assert len(c.logprobs.content) <= 10
        assert r.usage.completion_tokens == sum(len(c.logprobs.content) for c in r.choices)


def test_chat_stream_carries_the_same_beams(client):
    kwargs = dict(model=SERVED_MODEL, messages=CHAT, max_tokens=6, n=2, temperature=0,
                  extra_body={"use_beam_search": True})
    full = client.chat.completions.create(**kwargs)
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        for c in chunk.choices:
            texts[c.index] += c.delta.content or ""
            if c.finish_reason:
                finish[c.index] = c.finish_reason
    assert [texts[0], texts[1]] == [c.message.content for c in full.choices]
    assert [finish[0], finish[1]] == [c.finish_reason for c in full.choices]


def test_completion_stream_is_refused_as_vllm(client):
    try:
        client.completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=4, stream=True,
                                  extra_body={"use_beam_search": True})
    except openai.BadRequestError as e:
        assert "Streaming is not currently supported with beam search" in str(e)
    else:
        raise AssertionError("expected a 400")

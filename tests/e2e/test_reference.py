"""The served answers against llama.cpp's greedy answers on the same GGUF (tests/data/model_greedy.json, written by
tools/goldens/model.py with llama-cpp-python): chat template + tokenizer + engine + HTTP, end to end."""

import json
import os
import pathlib

from conftest import SERVED_MODEL

GOLDENS = json.loads((pathlib.Path(os.environ["PODSERVE_TEST_DATA"]) / "model_greedy.json").read_text())
# Below this top-2 logit margin (in llama.cpp's own run) float differences may flip a greedy choice, so only
# answers whose every step is clearer than this must match text for text (tests/model checks the rest).
ROBUST_MARGIN = 0.5


def robust(case):
    return min(case["top2_margins"]) >= ROBUST_MARGIN


def test_chat_answers_equal_llama_cpp(client):
    cases = [c for c in GOLDENS["cases"] if c["chat"] and robust(c)]
    assert cases, "the goldens must hold at least one robust chat answer"
    for case in cases:
        r = client.chat.completions.create(model=SERVED_MODEL, messages=case["messages"], temperature=0,
                                           max_tokens=case["max_tokens"])
        assert r.choices[0].message.content == case["greedy_text"]
        assert r.usage.prompt_tokens == len(case["prompt_tokens"])
        stream = client.chat.completions.create(model=SERVED_MODEL, messages=case["messages"], temperature=0,
                                                max_tokens=case["max_tokens"], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == case["greedy_text"]
    # The acceptance question: "What is the capital of France?" answered with Paris, as llama.cpp answers it.
    assert any("Paris" in c["greedy_text"] and "capital of France" in c["messages"][-1]["content"] for c in cases)


def test_completion_answers_equal_llama_cpp(client):
    cases = [c for c in GOLDENS["cases"] if not c["chat"] and robust(c)]
    assert cases
    for case in cases:
        r = client.completions.create(model=SERVED_MODEL, prompt=case["prompt_tokens"], temperature=0,
                                      max_tokens=case["max_tokens"], extra_body={"ignore_eos": True})
        expected = case["greedy_tokens"]
        # Text of the same tokens: compare through the token count and the text llama.cpp decoded.
        assert r.usage.completion_tokens == len(expected)
        assert r.choices[0].text == case["greedy_text"]

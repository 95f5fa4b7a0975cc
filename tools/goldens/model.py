#!/usr/bin/env python3
"""Greedy continuations and next-token logits of the default GGUF from llama.cpp (llama-cpp-python).

Writes tests/data/model_greedy.json, which the model tier (tests/model) and the e2e tier compare against.
Prompts are fed as token ids (llama.cpp's own tokenization, special tokens parsed) so the model tier checks the
forward pass alone; the tokenizer has its own goldens.
"""
import argparse
import json
import pathlib

import jinja2
import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Cases are written as the first FIRST_RAW raw prompts, the first FIRST_CHAT chat questions, then the rest of each
# list: the original eight cases keep their indices (tests/model picks cases 0, 4 and 5 by index).
FIRST_RAW, FIRST_CHAT = 4, 4
RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n",
    "Once upon a time, there was a little",
    "1, 2, 3, 4, 5,",
    "The three primary colors are",
    "import numpy as np\n\ndef normalize(v):\n",
    "Shopping list:\n1. Milk\n2.",
    "Question: What is 12 times 12?\nAnswer:",
    "La capitale de l'Allemagne est",
    "The water cycle consists of the following steps:",
    "<html>\n<head>\n<title>",
    "In 1969, Neil Armstrong",
]
# (system message or None for the template's default, user message)
CHAT_QUESTIONS = [
    (None, "What is the capital of France?"),
    ("You are a helpful AI assistant.", "What is the capital of France?"),
    ("You are a helpful assistant. Answer in one sentence.", "What is the capital of France?"),
    (None, "Write a haiku about the sea."),
    (None, "List three fruits that are red."),
    (None, "Write a Python function that reverses a string."),
    ("You are a math tutor.", "What is 15 + 27? Explain step by step."),
    (None, "Translate 'good morning' into Spanish."),
    (None, "¿Cuál es la capital de España?"),
    (None, "Why is the sky blue?"),
    ("You are a helpful assistant.", "Give me two tips for better sleep."),
    (None, "What is the largest planet in the solar system?"),
]
MAX_TOKENS = 32
CHAT_MAX_TOKENS = 48
TOP_LOGITS = 20


def chat_messages(system, question):
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]


def render_chat(template: str, messages, bos_token="<|im_start|>", eos_token="<|im_end|>") -> str:
    """The chat prompt as transformers' apply_chat_template renders it (jinja2, trim_blocks, lstrip_blocks)."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                            bos_token=bos_token, eos_token=eos_token)


def greedy(llm: Llama, tokens, max_tokens, stop):
    """llama.cpp's greedy continuation of `tokens` (stopping after any id in `stop`), llama.cpp's top-2 margin at
    every step, and its top TOP_LOGITS logits (with logprobs) at the first step."""
    llm.reset()
    llm.eval(tokens)
    first = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    out, margins = [], []
    for _ in range(max_tokens):
        logits = llm.scores[llm.n_tokens - 1]
        tok = int(np.argmax(logits))
        top2 = np.sort(logits)[-2:]
        margins.append(round(float(top2[1] - top2[0]), 5))
        out.append(tok)
        if tok in stop:
            break
        llm.eval([tok])
    top = np.argsort(-first)[:TOP_LOGITS]
    logsumexp = float(first.max() + np.log(np.exp(first - first.max()).sum()))
    return out, margins, [{"id": int(i), "logit": float(first[i]), "logprob": float(first[i] - logsumexp)} for i in top]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/model_greedy.json"))
    args = ap.parse_args()
    # n_batch=1: llama.cpp evaluates the prompt token by token. Its batched prompt path (>= 32 tokens) takes other
    # kernels whose logits differ from its own token-by-token ones by several units on these prompts; the
    # token-by-token path is the vector-kernel arithmetic podserve mirrors (8-bit activations, fp16 K/V).
    llm = Llama(model_path=args.model, n_ctx=1024, n_threads=2, n_batch=1, n_ubatch=1, logits_all=True,
                verbose=False, seed=0)
    template = llm.metadata["tokenizer.chat_template"]
    eos = llm.token_eos()
    cases = []
    raw = [(p, None, MAX_TOKENS) for p in RAW_PROMPTS]
    chat = []
    for system, question in CHAT_QUESTIONS:
        messages = chat_messages(system, question)
        chat.append((render_chat(template, messages), messages, CHAT_MAX_TOKENS))
    prompts = raw[:FIRST_RAW] + chat[:FIRST_CHAT] + raw[FIRST_RAW:] + chat[FIRST_CHAT:]
    for text, messages, max_tokens in prompts:
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        out, margins, top = greedy(llm, tokens, max_tokens, (eos,))
        completion = llm.detokenize([t for t in out if t != eos]).decode("utf-8", errors="replace")
        cases.append({"prompt": text, "chat": messages is not None, "messages": messages, "prompt_tokens": tokens, "max_tokens": max_tokens,
                      "greedy_tokens": out, "greedy_text": completion,
                      "top2_margins": margins, "first_top_logits": top})
        print(f"{text[:40]!r:45} -> {completion[:60]!r} min margin {min(margins):.4f} at {int(np.argmin(margins))}")
    import llama_cpp
    data = {"generator": "tools/goldens/model.py", "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "model": pathlib.Path(args.model).name, "eos_token_id": eos, "cases": cases}
    pathlib.Path(args.out).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {len(cases)} cases")


if __name__ == "__main__":
    main()

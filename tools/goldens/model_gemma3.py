#!/usr/bin/env python3
"""Greedy continuations and next-token logits of Gemma 3 270M (Q4_K_M GGUF) from llama.cpp (llama-cpp-python).

Writes tests/data/model_greedy_gemma3.json in the format of tools/goldens/model.py, which the model tier
(tests/model/gemma3_greedy_test.cpp) compares against. The file is the base model google/gemma-3-270m (no chat
template in the GGUF): most cases are raw completions (BOS + text, as llama.cpp adds it); a few are chat turns
rendered with the shared gemma-3-it.jinja template to check the chat markup path.

Run: .venv-ref/bin/python tools/goldens/model_gemma3.py [--model PATH] [--fixtures DIR] [--out PATH]
(scripts/fetch-model-gemma3 puts the model at models/gemma-3-270m-q4_k_m.gguf.)
"""
import argparse
import importlib.util
import json
import pathlib

import llama_cpp
from llama_cpp import Llama

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("model_golden", HERE / "model.py")
model_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_golden)  # its raw prompts, chat_messages(), render_chat() and greedy()

RAW_PROMPTS = model_golden.RAW_PROMPTS + [
    "The largest planet in our solar system is",
    "Here is a recipe for pancakes:\n\nIngredients:\n-",
    "Water boils at a temperature of",
    "The Eiffel Tower is located in",
    "public class HelloWorld {\n    public static void main(String[] args) {\n",
    "Monday, Tuesday, Wednesday,",
    "Photosynthesis is the process by which",
    "Der Hund ist",
    "Q: What is the opposite of hot?\nA:",
    "The first president of the United States was",
    "SELECT name FROM users WHERE",
    "A haiku about autumn:\n",
]
# (system message or None, user message): rendered with gemma-3-it.jinja (system text goes into the first turn).
CHAT_QUESTIONS = [
    (None, "What is the capital of France?"),
    (None, "Name three colors of the rainbow."),
    ("Answer in one word.", "What color is the sky on a clear day?"),
    (None, "Write a Python function that adds two numbers."),
]
MAX_TOKENS = 32
CHAT_MAX_TOKENS = 48


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/model_greedy_gemma3.json"))
    args = ap.parse_args()
    # n_batch=1 as in model.py: llama.cpp's token-by-token path. One thread: ggml's spinning thread barrier crawls
    # on a busy machine. n_ctx stays small: logits_all keeps n_ctx rows of 262,144 logits.
    llm = Llama(model_path=args.model, n_ctx=256, n_threads=1, n_batch=1, n_ubatch=1, logits_all=True,
                verbose=False, seed=0)
    template = (pathlib.Path(args.fixtures) / "chat_templates/gemma-3-it.jinja").read_text(encoding="utf-8")
    eos = llm.token_eos()
    # Instruction-tuned Gemma ends a turn with <end_of_turn>; the base model may emit it too. Both stop.
    end_of_turn = llm.tokenize(b"<end_of_turn>", add_bos=False, special=True)
    assert len(end_of_turn) == 1
    prompts = [(p, None, MAX_TOKENS) for p in RAW_PROMPTS]
    for system, question in CHAT_QUESTIONS:
        messages = model_golden.chat_messages(system, question)
        prompts.append((model_golden.render_chat(template, messages, "<bos>", "<eos>"), messages, CHAT_MAX_TOKENS))
    cases = []
    for text, messages, max_tokens in prompts:
        # Raw prompts get BOS as llama.cpp adds it (add_bos_token is true); the chat template writes its own.
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=messages is None, special=True)
        out, margins, top = model_golden.greedy(llm, tokens, max_tokens, (eos, end_of_turn[0]))
        completion = llm.detokenize([t for t in out if t not in (eos, end_of_turn[0])]).decode("utf-8", errors="replace")
        cases.append({"prompt": text, "chat": messages is not None, "messages": messages, "prompt_tokens": tokens,
                      "max_tokens": max_tokens, "greedy_tokens": out, "greedy_text": completion,
                      "top2_margins": margins, "first_top_logits": top})
        print(f"{text[-40:]!r:45} -> {completion[:70]!r} min margin {min(margins):.4f}")
    data = {"generator": "tools/goldens/model_gemma3.py", "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "model": pathlib.Path(args.model).name, "eos_token_id": eos, "end_of_turn_id": end_of_turn[0],
            "cases": cases}
    pathlib.Path(args.out).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {len(cases)} cases")


if __name__ == "__main__":
    main()

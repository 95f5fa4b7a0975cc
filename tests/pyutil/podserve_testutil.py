"""Helpers shared by the Python test tiers (ctest puts this folder on PYTHONPATH)."""

import json
import os
import shutil
import socket

import pytest


def require_env(name: str) -> str:
    """The value of an environment variable ctest sets; stops the session with a clear message when it is unset."""
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run this tier through ctest (ctest -L e2e)", returncode=2)
    return value


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_chat_stream(chunks):
    """A streamed chat answer of one choice, joined: (reasoning, content, tool calls in index order as
    {"name", "arguments"}, the last finish_reason)."""
    reasoning, content, calls, finish = "", "", {}, None
    for chunk in chunks:
        for ch in chunk.choices:
            reasoning += getattr(ch.delta, "reasoning", None) or ""
            content += ch.delta.content or ""
            for tc in ch.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"name": "", "arguments": ""})
                entry["name"] += tc.function.name or ""
                entry["arguments"] += tc.function.arguments or ""
            finish = ch.finish_reason or finish
    return reasoning, content, [calls[i] for i in sorted(calls)], finish


TINY_SIDE_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                   "chat_template.jinja"]


def tiny_model_with_special_tokens(model_dir, tiny_dir, tokens):
    """Copies the tiny model's config and tokenizer files (no weights: serve it with --load-format dummy) from
    `tiny_dir` into `model_dir` with `tokens` appended as special added tokens after the vocabulary (config's
    vocab_size grows with them). Returns ({token: id}, the model vocabulary {text: id}) so a test can bias the
    plain tokens that could spell the markers."""
    for f in TINY_SIDE_FILES:
        shutil.copy(os.path.join(tiny_dir, f), os.path.join(model_dir, f))
    with open(os.path.join(model_dir, "tokenizer.json")) as f:
        tok = json.load(f)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    base = config["vocab_size"]
    tok["added_tokens"] += [{"id": base + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for i, t in enumerate(tokens)]
    config["vocab_size"] = base + len(tokens)
    with open(os.path.join(model_dir, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f)
    return {t: base + i for i, t in enumerate(tokens)}, tok["model"]["vocab"]

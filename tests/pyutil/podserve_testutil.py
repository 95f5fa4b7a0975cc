"""Helpers shared by the Python test tiers (ctest puts this folder on PYTHONPATH)."""

import os
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

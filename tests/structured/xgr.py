"""xgrammar 0.2.8 as the reference for src/structured, plus the driver that prints podserve's EBNF.

xgrammar's Python package imports torch and transformers at module level (bitmask tensors, HF tokenizer
helpers) although grammar compilation and matching run in its native library. requirements/test-nodeps.txt
installs it without them; `_stand_ins()` registers empty placeholder modules for those two imports only, so
every grammar below is parsed, compiled and matched by xgrammar's own C++ code."""

import json
import os
import random
import subprocess
import sys
import types

import numpy as np


class _Placeholder(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = type(name, (), {"__init__": lambda self, *a, **k: None})
        setattr(self, name, value)
        return value


def _stand_ins():
    import tvm_ffi  # noqa: F401  (imported first: it probes for a real torch and must not see the placeholder)

    for name in ("torch", "transformers"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = _Placeholder(name)


_stand_ins()
import xgrammar as xgr  # noqa: E402
from xgrammar import testing as xgr_testing  # noqa: E402

assert xgr.__version__ == "0.2.8" if hasattr(xgr, "__version__") else True

# A one-character-per-token vocabulary for walking grammars: ASCII, whitespace, a few multi-byte characters.
VOCAB = [chr(c) for c in range(0x20, 0x7F)] + ["\n", "\t", "\r", "\x01", "\x7f", "é", "\u00a0", "中", "😀"]
EOS = len(VOCAB)
_TOKENIZER = xgr.TokenizerInfo(VOCAB + ["<eos>"], stop_token_ids=[EOS])
_COMPILER = xgr.GrammarCompiler(_TOKENIZER, cache_enabled=False)


class Driver:
    """tests/structured/structured_convert: one JSON request per line in, one answer per line out."""

    def __init__(self):
        self.proc = subprocess.Popen([os.environ["PODSERVE_STRUCTURED_CONVERT"]], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def call(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def schema(self, schema, **options):
        return self.call({"schema": schema, "options": options})

    def regex(self, regex, json_string=False):
        return self.call({"regex": regex, "json_string": json_string})

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def compile_grammar(grammar):
    return _COMPILER.compile_grammar(grammar)


def live_prefix(compiled, text):
    """(how many leading characters the grammar accepts, whether it then can end)."""
    matcher = xgr.GrammarMatcher(compiled)
    for i, ch in enumerate(text):
        if not matcher.accept_string(ch):
            return i, False
    return len(text), _can_end(matcher)


def _can_end(matcher):
    mask = np.full((1, (EOS + 32) // 32), -1, dtype=np.int32)
    matcher.fill_next_token_bitmask(mask)
    return bool((int(mask[0, EOS // 32]) >> (EOS % 32)) & 1)


def sample(compiled, rng, max_len=160):
    """A random string of the grammar's language (a walk over its token masks), or None past max_len."""
    matcher = xgr.GrammarMatcher(compiled)
    mask = np.zeros((1, (EOS + 32) // 32), dtype=np.int32)
    out = []
    while len(out) < max_len:
        if matcher.is_terminated():
            return "".join(out)
        matcher.fill_next_token_bitmask(mask)
        allowed = np.flatnonzero(np.unpackbits(mask[0].view(np.uint8), bitorder="little")[:EOS + 1]).tolist()
        if not allowed:
            return None
        # Prefer ending once long; prefer fewer whitespace characters (they never end a walk by themselves).
        if EOS in allowed and (len(out) > max_len // 2 or rng.random() < 0.15):
            return "".join(out)
        choices = [t for t in allowed if t != EOS and VOCAB[t] not in " \n\t\r"] or allowed
        token = rng.choice(choices)
        if token == EOS:
            return "".join(out)
        assert matcher.accept_token(token)
        out.append(VOCAB[token])
    return None


def mutations(text, rng, count, inserts):
    """`count` near-misses of `text`: a character dropped, inserted (from `inserts`), a slice repeated, two
    characters swapped, or the text cut short."""
    out = []
    for _ in range(count):
        i = rng.randrange(len(text) + 1)
        kind = rng.randrange(5)
        if kind == 0 and i < len(text):
            out.append(text[:i] + text[i + 1:])
        elif kind == 1:
            out.append(text[:i] + rng.choice(inserts) + text[i:])
        elif kind == 2:
            j = rng.randrange(i, len(text) + 1)
            out.append(text[:j] + text[i:j] + text[j:])
        elif kind == 3 and i + 1 < len(text):
            out.append(text[:i] + text[i + 1] + text[i] + text[i + 2:])
        else:
            out.append(text[:i])
    return out


def assert_same_language(ours, theirs, texts, rng_seed=0, walks=20, label=""):
    """Both compiled grammars treat every text alike (same live prefix, same ending), and random walks of
    each grammar's language are accepted by the other."""
    mismatches = []
    for text in texts:
        a, b = live_prefix(ours, text), live_prefix(theirs, text)
        if a != b:
            mismatches.append(f"{text!r}: podserve {a}, xgrammar {b}")
    rng = random.Random(rng_seed)
    for name, source, other in (("xgrammar", theirs, ours), ("podserve", ours, theirs)):
        for _ in range(walks):
            text = sample(source, rng)
            if text is None:
                continue
            got = live_prefix(other, text)
            if got != (len(text), True):
                mismatches.append(f"walk of {name}: {text!r} -> other grammar {got}")
    assert not mismatches, f"{label}: {len(mismatches)} differences:\n" + "\n".join(mismatches[:15])

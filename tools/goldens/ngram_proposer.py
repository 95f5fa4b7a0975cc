"""Goldens for podserve's n-gram proposer (tests/data/ngram_proposer.json), from vLLM 0.32.0's own
`_find_longest_matched_ngram_and_propose_tokens` (vllm/v1/spec_decode/ngram_proposer.py).

vLLM compiles that function with numba, which the vLLM venv does not install (and does not need: the parser goldens
never import it); the script puts a stand-in `numba` module whose decorators return the function unchanged, so the
very same Python code runs uncompiled. The proposer module imports torch and vllm.config (~25 s).

Without vLLM (`--restated`), a plain re-statement of the algorithm below writes the goldens instead; with vLLM the
script checks that both agree on every case, so the re-statement documents the rule rather than defining it.
Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/ngram_proposer.py`.
"""
import json
import random
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "ngram_proposer.json"


def restated(tokens, min_n, max_n, max_model_len, k):
    """Re-statement (not vLLM's code): the longest n-gram, min_n <= n <= max_n, that ends the context and occurs
    earlier (the earliest occurrence on ties); up to k tokens after it, clipped by max_model_len and the context."""
    total = len(tokens)
    k = min(k, max_model_len - total)
    if total < min_n or k <= 0:
        return []
    best_n, best_start = 0, None
    for start in range(total - 1):  # an occurrence ending at start + n - 1 < total - 1
        n = 0
        while n < max_n and start - n >= 0 and tokens[start - n] == tokens[total - 1 - n]:
            n += 1
        # occurrence ends at `start`; the earliest end position wins ties (strictly longer replaces)
        if n > best_n:
            best_n, best_start = n, start
    if best_n < min_n:
        return []
    follow = best_start + 1
    return tokens[follow:follow + min(k, total - follow)]


def vllm_proposer():
    import numpy as np
    stub = types.ModuleType("numba")
    identity = lambda *a, **kw: (a[0] if a and callable(a[0]) else (lambda f: f))
    stub.jit = stub.njit = identity
    stub.prange = range
    stub.get_num_threads = lambda: 1
    stub.set_num_threads = lambda n: None
    sys.modules.setdefault("numba", stub)
    from vllm.v1.spec_decode.ngram_proposer import _find_longest_matched_ngram_and_propose_tokens as find

    def propose(tokens, min_n, max_n, max_model_len, k):
        out = find(np.array(tokens, dtype=np.int32), min_n, max_n, max_model_len, k)
        return [int(t) for t in out]
    return propose


def cases():
    out = [
        ([1, 2, 3, 4, 1, 2, 3], 1, 3, 100, 3),        # suffix 1 2 3 occurs at the start
        ([1, 2, 3, 4, 1, 2, 3], 1, 3, 100, 10),       # k clipped by the tokens after the match
        ([1, 2, 3, 4, 1, 2, 3], 1, 3, 9, 5),          # k clipped by max_model_len
        ([1, 2, 3, 4, 1, 2, 3], 1, 3, 7, 5),          # no room at all
        ([1, 2, 3, 4, 5], 1, 3, 100, 3),              # no match
        ([5, 5], 1, 5, 100, 3),
        ([7], 1, 5, 100, 3),                          # shorter than anything
        ([1, 2], 3, 5, 100, 3),                       # shorter than min_n
        ([1, 2, 9, 1, 2, 8, 1, 2], 2, 2, 100, 2),     # two occurrences: the earliest wins
        ([3, 1, 2, 9, 3, 1, 2, 8, 1, 2], 2, 4, 100, 2),
        ([3, 1, 2, 9, 7, 1, 2, 8, 3, 1, 2], 2, 4, 100, 3),  # the longer (later) match wins over the earlier
        ([1, 1, 1, 1, 1, 1], 1, 3, 100, 4),           # self-overlapping runs
        ([1, 2, 1, 2, 1, 2, 1], 2, 5, 100, 4),
        ([4, 4, 4, 2, 4, 4, 4, 4], 1, 3, 100, 3),     # match capped at max_n
        ([9, 8, 7, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5], 5, 5, 100, 5),  # vLLM's default 5/5
        ([9, 8, 7, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4], 5, 5, 100, 5),     # 4-gram only: below min_n
    ]
    rng = random.Random(17)
    for _ in range(400):
        alphabet = rng.choice([2, 3, 4, 8, 30])
        length = rng.randint(1, 60)
        tokens = [rng.randrange(alphabet) for _ in range(length)]
        min_n = rng.randint(1, 4)
        max_n = rng.randint(min_n, 6)
        k = rng.randint(1, 8)
        max_model_len = length + rng.choice([0, 1, 2, 5, 100])
        out.append((tokens, min_n, max_n, max_model_len, k))
    return out


def main():
    use_vllm = "--restated" not in sys.argv
    propose = vllm_proposer() if use_vllm else restated
    rows = []
    for tokens, min_n, max_n, max_model_len, k in cases():
        draft = propose(tokens, min_n, max_n, max_model_len, k)
        if use_vllm:
            assert restated(tokens, min_n, max_n, max_model_len, k) == draft, (tokens, min_n, max_n, max_model_len, k)
        rows.append({"tokens": tokens, "min_n": min_n, "max_n": max_n, "max_model_len": max_model_len, "k": k,
                     "draft": draft})
    source = "vllm 0.32.0 _find_longest_matched_ngram_and_propose_tokens" if use_vllm else "restated (not vLLM)"
    OUT.write_text(json.dumps({"source": source, "cases": rows}, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(rows)} cases, {source})")


if __name__ == "__main__":
    main()

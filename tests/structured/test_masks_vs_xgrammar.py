"""Token masks against xgrammar 0.2.8, the engine vLLM runs (structured-tools.md §2): the same grammar text is
compiled by xgrammar and by podserve (tests/structured/structured_masks) over the same vocabulary, and walks of
token ids (canonical tokenizations of valid and invalid strings, longest-match tokenizations, and random walks
over xgrammar's own masks) must give the same allowed-token set before every token, reject at the same token,
and agree on whether the grammar may end. JSON schemas and regexes are lowered to EBNF by xgrammar itself
(Grammar.from_json_schema / from_regex, vLLM's settings), so these tests are about the masks; the converters
are tested for language equality in test_json_schema_vs_xgrammar.py / test_regex_vs_xgrammar.py.

Vocabularies: SmolLM2's GGUF (49152), Llama 3.1 (128256), Qwen3 (151669 tokens padded to the model's 151936,
so the padding must never be allowed) and Llama 2 (SentencePiece with byte fallback). Stop token: the
tokenizer's EOS (xgrammar's TokenizerInfo stop_token_ids as vLLM builds it)."""

import json
import os
import random
import subprocess

import gguf
import numpy as np
import pytest
from tokenizers import Tokenizer

from mask_cases import CHOICES, GRAMMARS, JSON_SCHEMAS, REGEXES
from xgr import xgr

FIXTURES = os.environ["PODSERVE_FIXTURES"]
MODEL = os.environ["PODSERVE_TEST_MODEL"]

# name -> (source, model vocab size, xgrammar vocab type, add_prefix_space)
VOCABS = {
    "smollm2": ({"gguf": MODEL}, 49152, "BYTE_LEVEL", False),
    "llama3_1": ({"tokenizer": f"{FIXTURES}/tokenizers/llama3_1"}, 128256, "BYTE_LEVEL", False),
    "qwen3": ({"tokenizer": f"{FIXTURES}/tokenizers/qwen3"}, 151936, "BYTE_LEVEL", False),
    "llama2": ({"tokenizer": f"{FIXTURES}/tokenizers/llama2"}, 32000, "BYTE_FALLBACK", True),
}
# Every grammar runs on SmolLM2; the larger vocabularies take every fourth case (compile time is per vocabulary).
BIG_VOCAB_STRIDE = 4


class MaskDriver:
    def __init__(self):
        self.proc = subprocess.Popen([os.environ["PODSERVE_STRUCTURED_MASKS"]], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def call(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def encoded_vocab_of(name, source):
    """The token strings by id, as xgrammar's TokenizerInfo.from_huggingface takes them from the tokenizer."""
    if "gguf" in source:
        reader = gguf.GGUFReader(source["gguf"])
        field = reader.fields["tokenizer.ggml.tokens"]
        tokens = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        eos = int(reader.fields["tokenizer.ggml.eos_token_id"].parts[-1][0])
        return tokens, eos, None
    tok = Tokenizer.from_file(source["tokenizer"] + "/tokenizer.json")
    vocab = tok.get_vocab(with_added_tokens=True)
    tokens = [""] * (max(vocab.values()) + 1)
    for text, i in vocab.items():
        tokens[i] = text
    config = json.load(open(source["tokenizer"] + "/tokenizer_config.json"))
    eos_token = config["eos_token"]["content"] if isinstance(config["eos_token"], dict) else config["eos_token"]
    return tokens, vocab[eos_token], tok


class Vocab:
    def __init__(self, name, driver):
        source, vocab_size, vocab_type, prefix_space = VOCABS[name]
        self.name, self.vocab_size = name, vocab_size
        tokens, self.eos, self.hf = encoded_vocab_of(name, source)
        self.info = xgr.TokenizerInfo(tokens, vocab_type=getattr(xgr.VocabType, vocab_type), vocab_size=vocab_size,
                                      stop_token_ids=[self.eos], add_prefix_space=prefix_space)
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=False)
        self.decoded = self.info.decoded_vocab
        answer = driver.call({**source, "name": name, "vocab_size": vocab_size})
        assert "error" not in answer, answer
        self.ours = answer
        # Longest-match tokenization over the decoded vocabulary (a valid, non-canonical token sequence).
        self.by_bytes = {}
        for i, b in enumerate(self.decoded):
            if b and i != self.eos and i < len(tokens):
                self.by_bytes.setdefault(bytes(b), i)
        self.max_len = max(len(b) for b in self.by_bytes)

    def longest_match(self, data):
        ids, pos = [], 0
        while pos < len(data):
            for n in range(min(self.max_len, len(data) - pos), 0, -1):
                token = self.by_bytes.get(data[pos:pos + n])
                if token is not None:
                    ids.append(token)
                    pos += n
                    break
            else:
                return None
        return ids


@pytest.fixture(scope="module")
def driver():
    d = MaskDriver()
    yield d
    d.close()


_VOCABS = {}


def vocab(name, driver):
    if name not in _VOCABS:
        _VOCABS[name] = Vocab(name, driver)
    return _VOCABS[name]


def xgr_bits(matcher, v):
    mask = np.full(((v.vocab_size + 31) // 32,), -1, dtype=np.int32)
    matcher.fill_next_token_bitmask(mask.reshape(1, -1))
    return np.unpackbits(mask.view(np.uint8), bitorder="little")[: v.vocab_size].astype(bool)


def our_bits(hexmask, v):
    words = np.frombuffer(bytes.fromhex(hexmask), dtype="<u4")
    return np.unpackbits(words.view(np.uint8), bitorder="little")[: v.vocab_size].astype(bool)


def xgr_walk(compiled, v, walk):
    """xgrammar's masks before each token, how many tokens it accepted, and its end state."""
    m = xgr.GrammarMatcher(compiled)
    masks, accepted = [], 0
    for t in walk:
        masks.append(xgr_bits(m, v))
        if not m.accept_token(t):
            break
        accepted += 1
    if accepted == len(walk) and not m.is_terminated():
        masks.append(xgr_bits(m, v))
    return masks, accepted, m.is_terminated()


def random_walk(compiled, v, rng, steps=24):
    m = xgr.GrammarMatcher(compiled)
    walk = []
    for _ in range(steps):
        if m.is_terminated():
            break
        allowed = np.flatnonzero(xgr_bits(m, v))
        if len(allowed) == 0:
            break
        t = int(rng.choice(list(allowed)))
        assert m.accept_token(t)
        walk.append(t)
    return walk


def walks_for(compiled, v, texts, seed):
    walks = []
    for text in texts:
        data = text.encode("utf-8")
        if v.hf is not None:
            walks.append(v.hf.encode(text, add_special_tokens=False).ids + [v.eos])
        lm = v.longest_match(data)
        if lm is not None:
            walks.append(lm + [v.eos])
    rng = random.Random(seed)
    walks += [random_walk(compiled, v, rng) for _ in range(2)]
    return walks


def describe(v, bits):
    ids = np.flatnonzero(bits)[:8]
    return [(int(i), bytes(v.decoded[i]) if i < len(v.decoded) else None) for i in ids]


def assert_walks_match(compiled, v, walks, got_walks, label):
    """podserve's walks (the driver's answer) against xgrammar's along the same token ids: the same accepted prefix,
    the same termination, the same mask before every token."""
    for walk, got in zip(walks, got_walks):
        masks, accepted, terminated = xgr_walk(compiled, v, walk)
        assert got["accepted"] == accepted, f"{label} on {v.name}: accepted {got['accepted']} vs {accepted} of {walk}"
        assert got["terminated"] == terminated, f"{label} on {v.name}: terminated differs on {walk}"
        for step, (theirs, h) in enumerate(zip(masks, got["masks"])):
            mine = our_bits(h, v)
            if not np.array_equal(mine, theirs):
                raise AssertionError(
                    f"{label} on {v.name}, step {step} of {walk[:step]}: podserve allows {int(mine.sum())}, "
                    f"xgrammar {int(theirs.sum())}; only podserve: {describe(v, mine & ~theirs)}; only xgrammar: "
                    f"{describe(v, theirs & ~mine)}")


def compare(driver, v, ebnf, texts, label, seed=0):
    compiled = v.compiler.compile_grammar(ebnf)
    walks = walks_for(compiled, v, texts, seed)
    ours = driver.call({"vocab": v.name, "ebnf": ebnf, "walks": walks})
    assert "error" not in ours, f"{label}: {ours['error']}\n{ebnf}"
    assert_walks_match(compiled, v, walks, ours["walks"], label)


def cases():
    out = []
    for i, (schema, texts) in enumerate(JSON_SCHEMAS):
        out.append((f"schema{i}", "json", schema, texts))
    for i, (regex, texts) in enumerate(REGEXES):
        out.append((f"regex{i}", "regex", regex, texts))
    for i, (grammar, texts) in enumerate(GRAMMARS):
        out.append((f"grammar{i}", "ebnf", grammar, texts))
    for i, choices in enumerate(CHOICES):
        out.append((f"choice{i}", "choice", choices, choices + ["x" + choices[0]]))
    return out


CASES = cases()
PARAMS = [(name, case) for name in VOCABS for i, case in enumerate(CASES)
          if name == "smollm2" or i % BIG_VOCAB_STRIDE == 0]


def ebnf_of(kind, spec):
    if kind == "json":
        return str(xgr.Grammar.from_json_schema(json.dumps(spec), any_whitespace=True, strict_mode=True))
    if kind == "regex":
        return str(xgr.Grammar.from_regex(spec))
    if kind == "choice":  # vLLM's choice_as_grammar
        escaped = [c.replace("\\", "\\\\").replace('"', '\\"') for c in spec]
        return "root ::= " + " | ".join(f'"{c}"' for c in escaped)
    return spec


def test_case_count():
    assert len(JSON_SCHEMAS) + len(REGEXES) + len(GRAMMARS) >= 50


def test_decoded_vocabularies_match(driver):
    for name in VOCABS:
        v = vocab(name, driver)
        ours = [bytes.fromhex(h) for h in v.ours["bytes"]]
        theirs = [bytes(b) for b in v.decoded[: len(ours)]]
        diff = [(i, ours[i], theirs[i]) for i in range(len(ours)) if ours[i] != theirs[i]]
        assert not diff, f"{name}: {len(diff)} tokens decode differently, e.g. {diff[:5]}"
        assert v.ours["eos"] == v.eos


@pytest.mark.parametrize("vocab_name,case", PARAMS, ids=[f"{n}-{c[0]}" for n, c in PARAMS])
def test_masks(driver, vocab_name, case):
    label, kind, spec, texts = case
    compare(driver, vocab(vocab_name, driver), ebnf_of(kind, spec), texts, label)

#!/usr/bin/env python3
"""Writes tests/data/tokenizer_smollm2.json: HF `tokenizers` encodings of the shared tokenizer inputs.

The tokenizer is rebuilt from the GGUF's own vocabulary (gguf-py), the same data podserve reads, with the
pre-tokenizer HF uses for SmolLM2: Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False,
use_regex=True)]. Control-type tokens become special AddedTokens.

Run: .venv-test/bin/python tools/goldens/tokenizer.py [--model PATH] [--inputs PATH] [--out PATH]
"""
import argparse
import json
import pathlib

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4

# Cases beyond the shared fixture file: chat markup, scripts, digits, whitespace, contractions.
EXTRA_CASES = [
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|><|endoftext|>",
    "text<|im_end|>more<|im_start|>",
    "<|im_start <|im_end|",
    "<|endoftext|> <|endoftext|>  x",
    "Emoji: 😀👍🏽 🇫🇷 👨‍👩‍👧‍👦 done",
    "中文测试，日本語のテキスト、한국어 텍스트。",
    "Mixed中文and English123数字",
    "1234567890123456789012345678901234567890",
    "pi = 3.14159265358979, year 2024, ½ ⅓ ²³ ١٢٣",
    "a  b   c    d\t\te\n\n\nf \n \n g",
    "          ",
    "\n\n\n\n",
    "trailing spaces   ",
    "I'm sure she's done, we've been, they'll go, you'd see, it's HOUSE'S, don't",
    "'s 've 're 'll 'd 'm 't",
    "x\u00a0!y \u2003\u2003z\t\tq",
    "ümlaut Ñandú café naïve façade",
    "def f(x):\n    return x ** 2  # square\n",
    "<dna>ATCGAT</dna> <dna>CGTACG</dna>",
    "Zero\u200bwidth\u200djoiner and \ufeffBOM",
    "𝓜𝓪𝓽𝓱 𝔽𝕣𝕒𝕜𝕥𝕦𝕣 and combining é",
    # Bytes whose byte-level character is missing from SmolLM2's vocabulary (0x04, 0x13, lead byte 0xF1):
    # HF's BPE has no unk token here, so they are dropped and decoding is lossy.
    "a\x04b\x13c\x1dd",
    "x\U00040000y",
]


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def field_ints(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def field_string(reader, key):
    f = reader.fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def read_cases(path):
    raw = pathlib.Path(path).read_bytes().decode("utf-8")
    body = raw.split("__BEGIN__\n", 1)[1]
    return body.split("\n__CASE__\n")[:-1]


def build_tokenizer(reader):
    assert field_string(reader, "tokenizer.ggml.model") == "gpt2"
    assert field_string(reader, "tokenizer.ggml.pre") == "smollm"
    tokens = field_strings(reader, "tokenizer.ggml.tokens")
    types = field_ints(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field_strings(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(tokens[i], special=True, normalized=False)
                for i, t in enumerate(types) if t in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)]
    tok.add_special_tokens(specials)
    for a in specials:  # added tokens must keep their GGUF ids
        assert tok.token_to_id(a.content) == vocab[a.content]
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--inputs", default=str(ROOT.parent / "shared/fixtures/tokenizer_inputs.txt"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/tokenizer_smollm2.json"))
    args = ap.parse_args()

    reader = gguf.GGUFReader(args.model)
    tok = build_tokenizer(reader)
    cases = []
    for source, texts in (("fixture", read_cases(args.inputs)), ("extra", EXTRA_CASES)):
        for text in texts:
            ids = tok.encode(text, add_special_tokens=False).ids
            cases.append({
                "source": source,
                "text": text,
                "ids": ids,
                "decoded": tok.decode(ids, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
            })
    out = {
        "generator": "tools/goldens/tokenizer.py",
        "model": pathlib.Path(args.model).name,
        "pre_tokenizer": "Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)]",
        "cases": cases,
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()

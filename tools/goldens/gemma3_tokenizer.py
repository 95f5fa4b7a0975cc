#!/usr/bin/env python3
"""Writes tests/data/tokenizer_gemma3.json: llama.cpp's tokenization of Gemma 3 270M's GGUF vocabulary.

The reference is llama.cpp itself (llama-cpp-python, `Llama(vocab_only=True).tokenize`) on the same GGUF file
podserve reads: its SentencePiece tokenizer (262,144 tokens, byte fallback, control tokens). Inputs are the shared
../shared/fixtures/tokenizer_inputs.txt, SmolLM2's extra cases and the seeded stress set of
tools/goldens/hf_tokenizers.py (scripts, emoji, combining marks, whitespace, code, digits), plus Gemma's own
special-token texts in and around words.

Per text: `ids` (special-token texts parsed, no BOS), `ids_no_special` where parsing them off differs, and
llama.cpp's detokenization of `ids` (special tokens rendered) where it differs from the text.

Run: .venv-ref/bin/python tools/goldens/gemma3_tokenizer.py [--model PATH] [--out PATH]
"""
import argparse
import importlib.util
import json
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("hf_golden", HERE / "hf_tokenizers.py")
hf_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hf_golden)  # its stress set and the shared input reader

import llama_cpp  # noqa: E402
from llama_cpp import Llama  # noqa: E402

SEED = 20261129
# Gemma's markup and a few of its control tokens, plus look-alikes.
GEMMA_CASES = [
    "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn><end_of_turn><eos><pad><unk><mask>",
    "text<end_of_turn>more<start_of_turn>",
    "<start_of_turn <end_of_turn <bos",
    "<start_of_image> <end_of_image><image_soft_token>",
    "  <eos>  x\n\n<bos>\t",
    "▁leading meta▁space ▁▁",
    "<0x0A> <0xFF> byte look-alikes",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/tokenizer_gemma3.json"))
    args = ap.parse_args()
    llm = Llama(model_path=args.model, vocab_only=True, verbose=False)
    rng = random.Random(SEED)
    texts = list(hf_golden.read_cases(pathlib.Path(args.fixtures) / "tokenizer_inputs.txt"))
    texts += hf_golden.smollm2_golden.EXTRA_CASES
    texts += hf_golden.FIXED_STRESS + hf_golden.script_strings(rng) + hf_golden.random_bmp(rng)
    specials = ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<pad>", "<unk>", "<mask>"]
    texts += GEMMA_CASES + hf_golden.special_strings(specials, rng)

    cases, roundtrip = [], 0
    for text in texts:
        data = text.encode("utf-8")
        ids = llm.tokenize(data, add_bos=False, special=True)
        case = {"text": text, "ids": ids}
        with_bos = llm.tokenize(data, add_bos=True, special=True)
        assert with_bos == [llm.token_bos()] + ids, text
        no_special = llm.tokenize(data, add_bos=False, special=False)
        if no_special != ids:
            case["ids_no_special"] = no_special
        decoded = llm.detokenize(ids, special=True)
        if decoded == data:
            roundtrip += 1
        else:
            case["decoded"] = decoded.decode("utf-8", errors="replace")
        cases.append(case)
    out = {"generator": "tools/goldens/gemma3_tokenizer.py", "reference": f"llama-cpp-python {llama_cpp.__version__}",
           "model": pathlib.Path(args.model).name, "vocab_size": llm.n_vocab(), "bos_id": llm.token_bos(),
           "eos_id": llm.token_eos(), "cases": cases}
    path = pathlib.Path(args.out)
    path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(cases)} texts, {roundtrip} detokenize back to the text "
          f"({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

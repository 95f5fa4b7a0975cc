#!/usr/bin/env python3
"""Writes tests/data/tiny-llama.gguf: a tiny random Llama (hidden 64, 2 layers, 4 heads / 2 KV heads, ffn 128)
with a gpt2 byte-level BPE vocabulary (256 byte tokens, a few dozen merges, 3 control tokens).

The engine tests run thousands of requests through it, so it must be small and fast, yet produce varied
(non-degenerate) logits so that batching, sampling and stop bugs show up as different token ids.

Run with the project venv (numpy + gguf 0.17.1):  .venv-test/bin/python tools/goldens/tiny_model.py
Deterministic: fixed seed, no timestamps.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

from goldens_common import bytes_to_unicode

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "tiny-llama.gguf")
SEED = 20240701

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, CONTEXT = 64, 2, 4, 2, 128, 512
HEAD_DIM = HIDDEN // HEADS

# Common English pairs, in priority order; each side is a byte token or an earlier merge's result.
MERGES = [
    "Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t", "Ġ w", "Ġ o", "e n", "Ġ c", "i t",
    "i s", "a n", "o r", "e s", "Ġ b", "e d", "Ġ f", "in g", "Ġ p", "o u", "Ġa n", "a l", "a r", "Ġt o", "Ġ m",
    "Ġo f", "Ġ in", "Ġ d", "Ġ h", "Ġan d", "i c", "a s", "l e", "Ġt h", "o m",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def vocabulary() -> tuple[list[str], list[int]]:
    byte_map = bytes_to_unicode()
    tokens = [byte_map[b] for b in range(256)]  # id == byte value
    known = set(tokens)
    for merge in MERGES:
        left, right = merge.split(" ")
        assert left in known and right in known, merge
        assert left + right not in known, merge
        tokens.append(left + right)
        known.add(left + right)
    types = [1] * len(tokens) + [3] * len(SPECIALS)  # normal, then control
    tokens += SPECIALS
    return tokens, types


def main() -> int:
    rng = np.random.default_rng(SEED)
    tokens, types = vocabulary()
    vocab = len(tokens)

    def linear(rows: int, cols: int, gain: float = 0.5) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * (gain / np.sqrt(cols))).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = gguf.GGUFWriter(OUT, arch="llama", use_temp_file=False)
    w.add_name("podserve tiny llama (random weights, tests only)")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q8_0))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    eot = tokens.index("<|endoftext|>")
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_pad_token_id(eot)
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    def q8(name: str, x: np.ndarray) -> None:
        w.add_tensor(name, gguf.quants.quantize(x, QT.Q8_0), raw_dtype=QT.Q8_0)

    # Embeddings of unit-ish scale: with tied output weights this gives logits with a std of a few units.
    q8("token_embd.weight", (rng.standard_normal((vocab, HIDDEN)) * 0.35).astype(np.float32))
    w.add_tensor("output_norm.weight", norm(HIDDEN))
    kv_dim = KV_HEADS * HEAD_DIM
    for i in range(LAYERS):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", norm(HIDDEN))
        q8(b + "attn_q.weight", linear(HIDDEN, HIDDEN, 1.0))
        q8(b + "attn_k.weight", linear(kv_dim, HIDDEN, 1.0))
        q8(b + "attn_v.weight", linear(kv_dim, HIDDEN, 1.0))
        q8(b + "attn_output.weight", linear(HIDDEN, HIDDEN))
        w.add_tensor(b + "ffn_norm.weight", norm(HIDDEN))
        q8(b + "ffn_gate.weight", linear(FFN, HIDDEN, 1.0))
        q8(b + "ffn_up.weight", linear(FFN, HIDDEN, 1.0))
        q8(b + "ffn_down.weight", linear(HIDDEN, FFN))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # Read back: the metadata and the tensor list are what the C++ loader expects.
    r = gguf.GGUFReader(OUT)
    assert r.fields["general.architecture"].contents() == "llama"
    assert len(r.fields["tokenizer.ggml.tokens"].contents()) == vocab
    names = {t.name for t in r.tensors}
    assert "token_embd.weight" in names and "output.weight" not in names
    size = os.path.getsize(OUT)
    print(f"tiny-llama.gguf: {size} bytes, {len(r.tensors)} tensors, vocab {vocab} "
          f"({len(MERGES)} merges, eos/bos {eot})")
    assert size < 300 * 1024
    return 0


if __name__ == "__main__":
    sys.exit(main())

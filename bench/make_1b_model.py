#!/usr/bin/env python3
"""Makes the benchmark's model that does not fit a CPU cache: a random-weight GGUF with Llama-3.2-1B's shape
(16 layers, hidden 2048, 32 query / 8 K/V heads of 64, MLP 8192, vocabulary 128256, tied embeddings, RoPE
theta 500000), in Q4_K_M and Q8_0, so tg is measured where main-memory bandwidth is the limit. Speed does not
depend on the values, only on the shapes and quant types, which are what llama.cpp's quantizer makes of them.

How: gguf-py (the `gguf` package) writes an F16 GGUF, streaming one tensor at a time (N(0, 0.02) weights from a
fixed seed, norms of ones), with SmolLM2's tokenizer (bench's default model) padded with unused tokens to the
vocabulary size, so llama.cpp and podserve both load it; then llama.cpp's own `llama-quantize` (built by
scripts/build-llama-cpp from the same tree as the benchmark's llama.cpp) makes Q4_K_M and Q8_0 from it. The files
go to $PODSERVE_CACHE/models/llama-1b-shape/ (the F16 source is deleted); existing ones are reused.

Usage: make_1b_model.py --llama-bin DIR [--tokenizer-from MODEL.gguf]   -> prints the Q4_K_M and Q8_0 paths
"""
import argparse
import os
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHAPE = {"layers": 16, "hidden": 2048, "heads": 32, "kv_heads": 8, "head_dim": 64, "ffn": 8192, "vocab": 128256,
         "rope_theta": 500000.0, "context": 8192, "rms_eps": 1e-5}
SEED = 1234
NAME = "llama-1b-shape"


def cache_dir():
    base = os.environ.get("PODSERVE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                            os.path.expanduser("~/.cache"), "podserve")
    return pathlib.Path(base) / "models" / NAME


def tensor_shapes():
    """(name, numpy shape = [rows, cols], is_norm) in GGUF order."""
    s = SHAPE
    q_dim, kv_dim = s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]
    out = [("token_embd.weight", (s["vocab"], s["hidden"]), False)]
    for i in range(s["layers"]):
        b = f"blk.{i}."
        out += [(b + "attn_norm.weight", (s["hidden"],), True), (b + "attn_q.weight", (q_dim, s["hidden"]), False),
                (b + "attn_k.weight", (kv_dim, s["hidden"]), False), (b + "attn_v.weight", (kv_dim, s["hidden"]), False),
                (b + "attn_output.weight", (s["hidden"], q_dim), False), (b + "ffn_norm.weight", (s["hidden"],), True),
                (b + "ffn_gate.weight", (s["ffn"], s["hidden"]), False), (b + "ffn_up.weight", (s["ffn"], s["hidden"]), False),
                (b + "ffn_down.weight", (s["hidden"], s["ffn"]), False)]
    out.append(("output_norm.weight", (s["hidden"],), True))
    return out


def write_f16(path, tokenizer_from):
    import gguf
    s = SHAPE
    src = gguf.GGUFReader(str(tokenizer_from))
    field = lambda k: src.fields[k].contents()  # noqa: E731
    tokens = [str(t) for t in field("tokenizer.ggml.tokens")]
    types = list(field("tokenizer.ggml.token_type"))
    pad = s["vocab"] - len(tokens)
    if pad < 0:
        raise ValueError(f"{tokenizer_from} has more than {s['vocab']} tokens")
    tokens += [f"<|unused_{i}|>" for i in range(pad)]
    types += [int(gguf.TokenType.UNUSED)] * pad

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("Llama-3.2-1B shape, random weights (podserve bench)")
    w.add_block_count(s["layers"])
    w.add_context_length(s["context"])
    w.add_embedding_length(s["hidden"])
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(s["head_dim"])
    w.add_rope_freq_base(s["rope_theta"])
    w.add_layer_norm_rms_eps(s["rms_eps"])
    w.add_vocab_size(s["vocab"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model(field("tokenizer.ggml.model"))
    w.add_tokenizer_pre(field("tokenizer.ggml.pre"))
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([str(m) for m in field("tokenizer.ggml.merges")])
    for key, add in (("tokenizer.ggml.bos_token_id", w.add_bos_token_id), ("tokenizer.ggml.eos_token_id", w.add_eos_token_id),
                     ("tokenizer.ggml.unknown_token_id", w.add_unk_token_id),
                     ("tokenizer.ggml.padding_token_id", w.add_pad_token_id)):
        add(int(field(key)))
    w.add_add_bos_token(False)
    shapes = tensor_shapes()
    for name, shape, is_norm in shapes:
        dtype = np.float32 if is_norm else np.float16
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(SEED)
    for name, shape, is_norm in shapes:
        if is_norm:
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
        else:  # row chunks keep the float32 temporaries small
            data = np.empty(shape, dtype=np.float16)
            for r in range(0, shape[0], 8192):
                chunk = rng.standard_normal((min(8192, shape[0] - r), shape[1]), dtype=np.float32)
                data[r:r + chunk.shape[0]] = chunk * 0.02
            w.write_tensor_data(data)
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bin", required=True, help="directory of llama-quantize (scripts/build-llama-cpp)")
    ap.add_argument("--tokenizer-from", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    args = ap.parse_args()
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    targets = {q: out / f"{NAME}.{q}.gguf" for q in ("Q4_K_M", "Q8_0")}
    missing = [q for q, p in targets.items() if not p.exists()]
    if missing:
        f16 = out / f"{NAME}.F16.gguf"
        tmp = f16.with_suffix(".tmp")
        print(f"writing {f16} (F16, about 2.5 GB) ...", file=sys.stderr, flush=True)
        write_f16(tmp, args.tokenizer_from)
        tmp.rename(f16)
        for q in missing:
            part = targets[q].with_suffix(".tmp")
            print(f"llama-quantize -> {targets[q].name} ...", file=sys.stderr, flush=True)
            subprocess.run([str(pathlib.Path(args.llama_bin) / "llama-quantize"), str(f16), str(part), q], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            part.rename(targets[q])
        f16.unlink()
    for q in ("Q4_K_M", "Q8_0"):
        print(targets[q])


if __name__ == "__main__":
    sys.exit(main())

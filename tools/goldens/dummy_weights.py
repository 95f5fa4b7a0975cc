#!/usr/bin/env python3
"""Writes tests/data/dummy_weights.json: LOAD_FORMAT=dummy values computed from the formula documented in
src/model/dummy_hash.h, written here again from that text (Python integers for the hash, numpy float32 for the
value), and stored as bfloat16 by gguf-py's converter (ggml's round-to-nearest-even, as torch's) and as float16 by
numpy's. tests/unit/model/dummy_weights_test.cpp checks podserve's fill against these bits.

  key(name)  = FNV-1a 64 of the name's UTF-8 bytes
  stream     = mix64(key ^ mix64(seed))                   mix64 = SplitMix64's finalizer
  h(i)       = mix64(stream + (i + 1) * 0x9E3779B97F4A7C15)   (mod 2^64)
  value(i)   = (float32(h(i) >> 40) * 2^-23 - 1) * 1e-3     every step in float32

Run with the project venv (numpy + gguf):  .venv-test/bin/python tools/goldens/dummy_weights.py
Deterministic: no randomness, no timestamps.
"""
import json
import os

import gguf
import numpy as np
from gguf import quants

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "dummy_weights.json")
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

SEEDS = [1234, 0, 987654321]
NAMES = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.31.mlp.down_proj.weight",
         "model.norm.weight", "lm_head.weight", "model.layers.0.block_sparse_moe.experts.7.w2.weight"]
INDICES = [0, 1, 2, 3, 15, 16, 17, 255, 4095, 65535, 65536, 1000003, 123456789, 2**31 + 11, 2**32 + 7, 2**40 - 1]


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def value(stream: int, index: int) -> np.float32:
    h = mix64((stream + (index + 1) * GOLDEN) & MASK)
    return (np.float32(h >> 40) * np.float32(2.0 ** -23) - np.float32(1.0)) * np.float32(1e-3)


def main() -> None:
    cases = []
    for seed in SEEDS:
        for name in NAMES:
            key = fnv1a64(name)
            stream = mix64(key ^ mix64(seed))
            f32 = np.array([value(stream, i) for i in INDICES], dtype=np.float32)
            bf16 = quants.quantize(f32, gguf.GGMLQuantizationType.BF16).view(np.uint16)
            f16 = f32.astype(np.float16).view(np.uint16)
            cases.append({"seed": seed, "name": name, "key": f"{key:016x}", "stream": f"{stream:016x}",
                          "f32_bits": [int(b) for b in f32.view(np.uint32)],
                          "bf16_bits": [int(b) for b in bf16], "f16_bits": [int(b) for b in f16]})
    with open(OUT, "w") as f:
        json.dump({"indices": INDICES, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} tensors x {len(INDICES)} indices")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A random LoRA adapter in PEFT's format (adapter_config.json + adapter_model.safetensors) for the shapes of a
llama-family GGUF model, read from its metadata with the gguf package: what the e2e tests serve on a real GGUF base
(SmolLM2-135M Q4_1), where no peft-made adapter fits. lora_A and lora_B are seeded normal noise scaled like
tools/goldens/lora_adapters.py's (so the adapter visibly moves the output), in Hugging Face's row order, as peft
saves adapters trained on the HF checkpoint the GGUF was converted from.

Run:  python tests/pyutil/random_lora.py MODEL.gguf OUT_DIR [--seed N] [--rank R]   (deterministic)
"""
import argparse
import json
import pathlib
import struct

import gguf
import numpy as np

MODULES = {  # PEFT module -> its block (HF names)
    "q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
    "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp",
}


def model_shapes(gguf_path: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """(layers, module -> (in, out) features) from the file's llama.* keys."""
    reader = gguf.GGUFReader(gguf_path)

    def key(name: str, default: int | None = None) -> int:
        field = reader.get_field(f"llama.{name}")
        if field is None:
            assert default is not None, f"{gguf_path} has no llama.{name}"
            return default
        return int(field.parts[field.data[0]][0])

    hidden, heads = key("embedding_length"), key("attention.head_count")
    kv_heads = key("attention.head_count_kv", heads)
    head_dim = key("attention.key_length", hidden // heads)
    ffn = key("feed_forward_length")
    q, kv = heads * head_dim, kv_heads * head_dim
    shapes = {"q_proj": (hidden, q), "k_proj": (hidden, kv), "v_proj": (hidden, kv), "o_proj": (q, hidden),
              "gate_proj": (hidden, ffn), "up_proj": (hidden, ffn), "down_proj": (ffn, hidden)}
    return key("block_count"), shapes


def write_safetensors(path: pathlib.Path, tensors: dict[str, np.ndarray]) -> None:
    """The safetensors layout: an 8-byte little-endian header length, the JSON header, the F32 data."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_random_lora(gguf_path: str, out_dir: str, seed: int, rank: int = 8, alpha: int = 16,
                      modules: list[str] | None = None) -> pathlib.Path:
    modules = sorted(modules or MODULES)
    layers, shapes = model_shapes(gguf_path)
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(layers):
        for m in modules:
            n_in, n_out = shapes[m]
            prefix = f"base_model.model.model.layers.{layer}.{MODULES[m]}.{m}"
            tensors[prefix + ".lora_A.weight"] = rng.standard_normal((rank, n_in)) / np.sqrt(n_in)
            tensors[prefix + ".lora_B.weight"] = rng.standard_normal((n_out, rank)) / np.sqrt(rank)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha, "lora_dropout": 0.0,
              "bias": "none", "target_modules": modules, "base_model_name_or_path": pathlib.Path(gguf_path).name}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    write_safetensors(out / "adapter_model.safetensors", tensors)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rank", type=int, default=8)
    args = parser.parse_args()
    print(write_random_lora(args.model, args.out_dir, args.seed, args.rank))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Makes the other variants of the default model that the benchmark compares (committed, so anyone can rebuild
them), all from the Q4_1 GGUF so every file describes the same network:

- Q8_0 and F16 GGUFs, by llama.cpp's own quantizer (`llama-quantize --allow-requantize` from scripts/build-llama-cpp:
  Q4_1 is dequantized, then stored as Q8_0 / F16);
- a bf16 safetensors Hugging Face directory: the GGUF tensors dequantized with gguf-py, renamed to transformers'
  Llama names (q/k rows un-permuted: llama.cpp's converter permutes them for its RoPE layout), loaded into
  transformers' LlamaForCausalLM and written by its save_pretrained; the tokenizer is rebuilt from the GGUF's
  vocabulary (tools/goldens/tokenizer.py) and written by transformers with the GGUF's chat template.

Every variant therefore carries Q4_1's rounding: Q4_1 -> F16 / bf16 is lossy against the original HF weights.
That does not change the speed, which is what the benchmark measures. Files are written next to the source
model (the model cache); existing ones are reused.

Usage: make_models.py --llama-bin DIR [MODEL.Q4_1.gguf]   -> prints the Q8_0, F16 and bf16-directory paths
Needs torch + transformers + gguf (the directory): the .venv-ref environment.
"""
import argparse
import importlib.util
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"


def _variant_path(src, tag, suffix=".gguf"):
    name = src.name.replace(".gguf", "")
    name = name.replace("Q4_1", tag) if "Q4_1" in name else f"{name}.{tag}"
    return src.with_name(name + suffix)


def _quantize(model, tag, llama_bin):
    src = pathlib.Path(model).resolve()
    dst = _variant_path(src, tag)
    if dst.exists():
        return str(dst)
    tmp = dst.with_suffix(".tmp")
    subprocess.run([str(pathlib.Path(llama_bin) / "llama-quantize"), "--allow-requantize", str(src), str(tmp), tag],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tmp.rename(dst)
    return str(dst)


def _field(reader, key):
    return reader.fields[key].contents()


def _unpermute(w, n_head):
    """Inverse of convert_hf_to_gguf.py's LlamaModel.permute (rows of q_proj / k_proj)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _hf_state_dict(reader, n_head, n_kv_head):
    import gguf
    import numpy as np
    import torch
    per_layer = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
                 "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                 "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                 "ffn_down": "mlp.down_proj"}
    state = {}
    for t in reader.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        if list(w.shape) != [int(d) for d in reversed(t.shape)]:
            raise ValueError(f"{t.name}: dequantized shape {w.shape} is not the GGUF's {list(t.shape)} reversed")
        parts = t.name.split(".")
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        elif t.name == "output.weight":
            name = "lm_head.weight"
        elif parts[0] == "blk" and parts[2] in per_layer:
            name = f"model.layers.{parts[1]}.{per_layer[parts[2]]}.weight"
            if parts[2] == "attn_q":
                w = _unpermute(w, n_head)
            elif parts[2] == "attn_k":
                w = _unpermute(w, n_kv_head)
        else:
            raise ValueError(f"unexpected tensor {t.name}")
        state[name] = torch.from_numpy(np.ascontiguousarray(w)).to(torch.bfloat16)
    return state


def _load_tokenizer_builder():
    spec = importlib.util.spec_from_file_location("gguf_tokenizer", ROOT / "tools/goldens/tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_bf16_dir(model):
    src = pathlib.Path(model).resolve()
    dst = _variant_path(src, "bf16", "-hf")
    if (dst / "model.safetensors").exists():
        return str(dst)
    import gguf
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    reader = gguf.GGUFReader(str(src))
    if _field(reader, "general.architecture") != "llama":
        raise ValueError("only llama-architecture GGUFs are converted")
    n_head, n_kv_head = _field(reader, "llama.attention.head_count"), _field(reader, "llama.attention.head_count_kv")
    hidden = _field(reader, "llama.embedding_length")
    names = {t.name for t in reader.tensors}
    bos, eos = _field(reader, "tokenizer.ggml.bos_token_id"), _field(reader, "tokenizer.ggml.eos_token_id")
    config = LlamaConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data), hidden_size=hidden,
        intermediate_size=_field(reader, "llama.feed_forward_length"),
        num_hidden_layers=_field(reader, "llama.block_count"), num_attention_heads=n_head,
        num_key_value_heads=n_kv_head, head_dim=hidden // n_head,
        max_position_embeddings=_field(reader, "llama.context_length"),
        rms_norm_eps=_field(reader, "llama.attention.layer_norm_rms_epsilon"),
        rope_theta=_field(reader, "llama.rope.freq_base"), tie_word_embeddings="output.weight" not in names,
        bos_token_id=bos, eos_token_id=eos, pad_token_id=_field(reader, "tokenizer.ggml.padding_token_id"),
        hidden_act="silu", dtype="bfloat16")
    state = _hf_state_dict(reader, n_head, n_kv_head)
    if config.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    with torch.device("meta"):
        lm = LlamaForCausalLM(config)
    lm.load_state_dict(state, strict=True, assign=True)
    tmp = dst.with_name(dst.name + ".tmp")
    lm.save_pretrained(str(tmp))

    tokens = [str(t) for t in _field(reader, "tokenizer.ggml.tokens")]
    tok = PreTrainedTokenizerFast(
        tokenizer_object=_load_tokenizer_builder().build_tokenizer(reader), bos_token=tokens[bos],
        eos_token=tokens[eos], unk_token=tokens[_field(reader, "tokenizer.ggml.unknown_token_id")],
        pad_token=tokens[_field(reader, "tokenizer.ggml.padding_token_id")],
        model_max_length=config.max_position_embeddings, chat_template=_field(reader, "tokenizer.chat_template"))
    tok.save_pretrained(str(tmp))
    (tmp / "SOURCE.json").write_text(json.dumps({"converted_from": src.name, "by": "bench/make_models.py",
                                                 "note": "dequantized from Q4_1: lossy vs the original"}) + "\n")
    tmp.rename(dst)
    return str(dst)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bin", required=True, help="directory of llama-quantize (scripts/build-llama-cpp)")
    ap.add_argument("model", nargs="?", default=str(DEFAULT_MODEL))
    args = ap.parse_args()
    print(_quantize(args.model, "Q8_0", args.llama_bin))
    print(_quantize(args.model, "F16", args.llama_bin))
    print(ensure_bf16_dir(args.model))

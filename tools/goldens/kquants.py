#!/usr/bin/env python3
"""Goldens for the K-quant and Q5 weight formats, quantized by llama.cpp's own quantizer (llama_model_quantize):

  tests/data/kquants/model-q4_k_m.gguf, model-q5_0.gguf, model-q5_1.gguf
        a tiny random llama (transformers; hidden and ffn 256 so every matrix is whole 256-blocks) written as F32
        GGUF the way llama.cpp's converter does (tiny_models.write_gguf), then quantized by llama.cpp: Q4_K_M
        (its usual mix: Q4_K, Q6_K for output and some attn_v/ffn_down), pure Q5_0 and pure Q5_1
  tests/data/kquants/goldens.json
        per model file: the tensor types as gguf-py reads them back, and along transformers' greedy path on the
        gguf-dequantized weights (gguf.quants.dequantize), the top-5 ids at every step
        (tests/model/kquant_model_test.cpp: our top-1 must be in that top-5)
  tests/data/kquants/q8k_input.bin, q8k_expected.bin
        activations and llama.cpp's Q8_K blocks for them (quantize_row_q8_K_ref from its libggml-base)
        (tests/unit/kernels/quant_gemm_k_test.cpp: our activation quantizers give the same bytes)
  tests/data/kquants/blocks.gguf, blocks_expected.bin, blocks_expected.json
        a few rows of every llama.cpp-quantized type (Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, Q8_0 from pure
        quantizations), copied byte for byte, and their values from gguf-py's dequantizer
        (tests/unit/io/dequant_kquants_test.cpp checks dequantize_row_ref against them)

Kept apart from quants.py so that quants.gguf (and the tests that count its tensors) stays as it is.
Needs torch + transformers + llama-cpp-python + gguf (requirements/ref.txt).
Run:  .venv-ref/bin/python tools/goldens/kquants.py   (deterministic: fixed seeds, no timestamps)
"""
import ctypes
import json
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import goldens_common  # noqa: E402  (top5_path)
import tiny_models  # noqa: E402  (randomize, write_gguf; importing it takes this folder off sys.path again)

import gguf  # noqa: E402
import llama_cpp  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "kquants"
VOCAB = 256
CONFIG = dict(vocab_size=VOCAB, hidden_size=256, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=64, max_position_embeddings=512, rms_norm_eps=1e-5,
              bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False,
              rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
SEED = 4242
PROMPT_LENGTHS = [1, 5, 17, 40]
STEPS = 24
# output file -> (llama_ftype, pure): pure quantizes every matrix to the ftype's type (no Q6_K output etc.)
MODELS = {"q4_k_m": (llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, False),
          "q5_0": (llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0, True),
          "q5_1": (llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_1, True)}
# Only for blocks.gguf: pure quantizations whose rows are sampled.
BLOCK_SOURCES = {"Q4_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S, "Q5_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_S,
                 "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K, "Q5_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0,
                 "Q5_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_1, "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}


def quantize(src: pathlib.Path, dst: pathlib.Path, ftype: int, pure: bool):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.pure = pure
    params.nthread = 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    assert rc == 0, f"llama_model_quantize({dst.name}) failed: {rc}"


def unpermute(w, n_head):
    """Inverse of tiny_models.permute (the converter's Q/K row order for interleaved RoPE)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def dequantized_state(path: pathlib.Path, config):
    """The HF state dict (2-D weights only) as gguf-py dequantizes the GGUF's tensors."""
    reader = gguf.GGUFReader(str(path))
    t = {x.name: gguf.quants.dequantize(np.asarray(x.data), x.tensor_type) for x in reader.tensors}
    types = {x.name: x.tensor_type.name for x in reader.tensors}
    sd = {"model.embed_tokens.weight": t["token_embd.weight"], "lm_head.weight": t["output.weight"]}
    for i in range(config.num_hidden_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        sd[p + "self_attn.q_proj.weight"] = unpermute(t[b + "attn_q.weight"], config.num_attention_heads)
        sd[p + "self_attn.k_proj.weight"] = unpermute(t[b + "attn_k.weight"], config.num_key_value_heads)
        for ours, theirs in {"attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
                             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}.items():
            sd[p + theirs + ".weight"] = t[b + ours + ".weight"]
    return sd, types


def write_blocks(tmp: pathlib.Path, f32: pathlib.Path):
    """blocks.gguf: rows of every llama.cpp-quantized type, and gguf-py's values for them."""
    rows_of = {}
    for qname, ftype in BLOCK_SOURCES.items():
        dst = tmp / f"pure-{qname}.gguf"
        quantize(f32, dst, ftype, True)
        reader = gguf.GGUFReader(str(dst))
        for name in ("blk.0.ffn_down.weight", "blk.1.attn_k.weight"):
            t = next(x for x in reader.tensors if x.name == name)
            assert t.tensor_type.name == qname, (qname, name, t.tensor_type.name)
            data = np.asarray(t.data)
            rows_of[f"{qname.lower()}.{name.split('.')[2]}"] = (t.tensor_type, data[[0, 1, 2, data.shape[0] - 1]])
    path = OUT / "blocks.gguf"
    writer = gguf.GGUFWriter(str(path), arch=None, use_temp_file=False)
    for name, (qt, raw) in rows_of.items():
        writer.add_tensor(name, np.ascontiguousarray(raw), raw_dtype=qt)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = gguf.GGUFReader(str(path))  # expected values from reading the written file back
    values, index = [], {"tensors": []}
    offset = 0
    for t in reader.tensors:
        deq = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).astype("<f4").reshape(-1)
        index["tensors"].append({"name": t.name, "type": t.tensor_type.name, "type_id": int(t.tensor_type),
                                 "dims": [int(d) for d in t.shape], "offset": offset, "count": int(deq.size)})
        values.append(deq)
        offset += deq.size
    all_values = np.concatenate(values)
    all_values.tofile(OUT / "blocks_expected.bin")
    index["value_count"] = int(all_values.size)
    (OUT / "blocks_expected.json").write_text(json.dumps(index, indent=1) + "\n")


def write_q8k():
    """q8k_input.bin (float32 [blocks, 256]) and q8k_expected.bin (ggml's block_q8_K bytes: float d, int8 qs[256],
    int16 bsums[16]) from llama.cpp's own quantize_row_q8_K_ref: the activation format of the K-quant dots."""
    lib = ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((16, 256)).astype(np.float32) * rng.uniform(1e-3, 30.0, size=(16, 1)).astype(np.float32)
    x[3] = 0.0  # all-zero block: d = 0
    x[4, 10], x[4, 200] = -50.0, 50.0  # both signs at the largest magnitude: the first one sets the sign
    # Round-half ties: max 127/4 gives iscale = -4 exactly, and odd eighths then scale to exact halves.
    x[5] = (2 * rng.integers(-120, 120, size=256) + 1).astype(np.float32) / 8
    x[5, 0] = 127.0 / 4
    x = np.ascontiguousarray(x, dtype="<f4")
    out = np.zeros(16 * 292, dtype=np.uint8)
    lib.quantize_row_q8_K_ref(x.ctypes.data, out.ctypes.data, x.size)
    x.tofile(OUT / "q8k_input.bin")
    out.tofile(OUT / "q8k_expected.bin")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(SEED)
    prompts = [torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        config = transformers.LlamaConfig(**CONFIG)
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32).eval()
        tiny_models.randomize(model, SEED)
        model.save_pretrained(tmp / "f32", safe_serialization=True)
        tiny_models.write_gguf(tmp, None, "model-f32.gguf")
        f32 = tmp / "model-f32.gguf"
        goldens = {"transformers": transformers.__version__, "llama_cpp": llama_cpp.__version__, "steps": STEPS,
                   "models": {}}
        for name, (ftype, pure) in MODELS.items():
            dst = OUT / f"model-{name}.gguf"
            quantize(f32, dst, ftype, pure)
            ref = AutoModelForCausalLM.from_pretrained(tmp / "f32", dtype=torch.float32,
                                                       attn_implementation="eager").eval()
            sd, types = dequantized_state(dst, ref.config)
            with torch.no_grad():
                for k, p in ref.named_parameters():
                    if p.dim() == 2:
                        p.copy_(torch.from_numpy(np.ascontiguousarray(sd[k])))
            cases = []
            for ids in prompts:
                path, top5 = goldens_common.top5_path(ref, ids, STEPS)
                cases.append({"ids": ids, "greedy": path, "top5": top5})
            goldens["models"][name] = {"types": types, "cases": cases}
            print(name, sorted(set(types.values())))
        (OUT / "goldens.json").write_text(json.dumps(goldens, separators=(",", ":")) + "\n")
        write_blocks(tmp, f32)
    write_q8k()
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"tests/data/kquants: {total} bytes")
    assert total < 3 * 1024 * 1024


if __name__ == "__main__":
    main()

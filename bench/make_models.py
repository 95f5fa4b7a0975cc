#!/usr/bin/env python3
"""Makes the other GGUF variants of the default model that the benchmark compares (committed, so anyone can
rebuild them): Q8_0 by llama.cpp's own quantizer (llama_cpp.llama_model_quantize) from the Q4_1 file, so both
files describe the same network. The Q8_0 weights therefore carry Q4_1's rounding; that does not change the
speed, which is what the benchmark measures. Files are written next to the source model (the model cache).

Usage: make_models.py [MODEL.Q4_1.gguf]   -> prints the Q8_0 path
"""
import ctypes
import pathlib
import sys


def ensure_q8_0(model):
    src = pathlib.Path(model).resolve()
    dst = src.with_name(src.name.replace("Q4_1", "Q8_0") if "Q4_1" in src.name else src.stem + ".Q8_0.gguf")
    if dst.exists():
        return str(dst)
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True  # the source is already quantized (Q4_1)
    tmp = dst.with_suffix(".tmp")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc})")
    tmp.rename(dst)
    return str(dst)


if __name__ == "__main__":
    default = pathlib.Path(__file__).resolve().parents[1] / "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    print(ensure_q8_0(sys.argv[1] if len(sys.argv) > 1 else default))

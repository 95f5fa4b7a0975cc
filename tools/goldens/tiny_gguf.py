#!/usr/bin/env python3
"""GGUF conversions of the tiny random models of tools/goldens/tiny_models.py, made by llama.cpp's own
convert_hf_to_gguf.py (the copy llama-cpp-python ships) and quantized by llama.cpp's own quantizer, for
tests/model/tiny_gguf_test.cpp.

For each model NAME in MODELS it writes tests/data/tiny_models/NAME/:
  gguf-f32.gguf    the f32 checkpoint converted with `--outtype f32` (the converter's own tensor names, Gemma's
                   norm + 1, Llama/Mixtral Q/K permutation, Mixtral's merged 3-D experts, Phi-3's fused tensors)
  gguf-q8_0.gguf   that file quantized to Q8_0 by llama_cpp.llama_model_quantize
  goldens_llama_cpp.json  (LLAMA_CPP_MODELS) llama.cpp's own logits on gguf-f32.gguf at goldens.json's positions
  goldens_gguf.json  transformers' greedy paths (32 steps) and top-5 ids at each step on the f32 model
                   (the Q8_0 test: our top-1 within the reference's top-5 at every step)
The f32 logits and greedy continuations the F32 test compares with are the ones in NAME/goldens.json.
tests/data/tiny_models/gemma3_defaults/ (gguf-f32.gguf, goldens.json, goldens_llama_cpp.json) is a 7-layer Gemma 3
laid out as llama.cpp assumes when a file has no layer pattern keys (see convert_gemma3_defaults).

What we change around the converter, and why:
  - The tiny models have no tokenizer (128 ids), so `set_vocab` writes a placeholder vocabulary of 128 tokens of
    the kind the real models use ("gpt2" with pre "qwen2" for Qwen, SentencePiece "llama" otherwise).
  - This converter predates transformers 5: it reads v4's top-level rope_theta / rope_scaling, so the v5
    rope_parameters of config.json are also given in v4 spelling (rope_local_base_freq for Gemma 3).
  - The converter does not record Gemma 2/3's query_pre_attn_scalar (llama.cpp assumes head_dim) nor Gemma 3's
    layer pattern and local rope base (llama.cpp hardcodes every 6th layer global, base 10000). The tiny models
    differ from those defaults, so their files also get `{arch}.attention.scale`,
    `{arch}.attention.sliding_window_pattern` (bool per layer) and `{arch}.rope.freq_base_swa`; podserve reads
    them when present and falls back to llama.cpp's defaults when not.
  - The converter imports a newer gguf-py than the PyPI package (MistralVocab, new arch constants, mistral_common
    for Mistral's own format): those names are stubbed; none of them is used for these models.

Needs torch + transformers + gguf (convert) and llama-cpp-python (quantize), i.e. requirements/ref.txt.
Run:  python tools/goldens/tiny_gguf.py [convert|quantize]   (default: both; deterministic)
      quantize also records llama.cpp's logits
"""
import enum
import json
import os
import pathlib
import runpy
import shutil
import sys
import tempfile
import types

import goldens_common  # (before the line below: it lives in this folder)

# Keep this folder off sys.path so no script name here can ever shadow an installed package.
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != pathlib.Path(__file__).resolve().parent]

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "tiny_models"
MODELS = ["qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "mixtral", "mistral"]
# llama.cpp runs these files as we do (qwen2: its loader wants head_count * key_length == embedding_length; gemma3:
# with three layers, all sliding by its default pattern, llama-cpp-python 0.3.16 crashes). gemma2 is run without
# the attention.scale key, which llama.cpp does not read: the test drops it too and so checks our defaults.
LLAMA_CPP_MODELS = ["qwen3", "gemma", "gemma2", "phi3", "mixtral", "mistral", "gemma3_defaults"]
GEMMA3_DEFAULTS = "gemma3_defaults"  # see convert_gemma3_defaults
QUANT_PROMPTS = [1, 3, 5, 7]  # indexes into the prompts of goldens.json
QUANT_STEPS = 32


def converter_path():
    if os.environ.get("CONVERT_HF_TO_GGUF"):
        return pathlib.Path(os.environ["CONVERT_HF_TO_GGUF"])
    import importlib.util
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None:
        sys.exit("llama-cpp-python is not installed (or set CONVERT_HF_TO_GGUF to convert_hf_to_gguf.py)")
    return pathlib.Path(spec.origin).parent.parent / "bin" / "convert_hf_to_gguf.py"


class _Lenient:
    """Forwards to a gguf enum; names this gguf-py lacks (archs we never convert) read as None."""
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name, None)

    def __iter__(self):
        return iter(self._real)


def load_converter():
    import transformers  # noqa: F401  (imported before the mistral_common stubs below exist)
    import transformers.models.auto  # noqa: F401
    import gguf
    import gguf.vocab

    class MistralTokenizerType(str, enum.Enum):
        spm = "spm"
        tekken = "tekken"
    gguf.vocab.MistralTokenizerType = MistralTokenizerType
    gguf.vocab.MistralVocab = object
    stubs = {"mistral_common": {}, "mistral_common.tokens": {}, "mistral_common.tokens.tokenizers": {},
             "mistral_common.tokens.tokenizers.base": {"TokenizerVersion": type("TokenizerVersion", (), {})},
             "mistral_common.tokens.tokenizers.multimodal": {"DATASET_MEAN": 0, "DATASET_STD": 0},
             "mistral_common.tokens.tokenizers.tekken": {"Tekkenizer": object},
             "mistral_common.tokens.tokenizers.sentencepiece": {"SentencePieceTokenizer": object}}
    for name, attrs in stubs.items():
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__dict__.update(attrs)
            sys.modules[name] = m
    gguf.MODEL_ARCH = _Lenient(gguf.MODEL_ARCH)
    gguf.MODEL_TENSOR = _Lenient(gguf.MODEL_TENSOR)
    os.environ["NO_LOCAL_GGUF"] = "1"
    conv = runpy.run_path(str(converter_path()), run_name="convert_hf_to_gguf")
    patch_converter(conv, gguf)
    return conv


def patch_converter(conv, gguf):
    model_base, text_model = conv["ModelBase"], conv["TextModel"]

    def placeholder_vocab(self):
        n = self.hparams["vocab_size"]
        w = self.gguf_writer
        if self.model_arch in (gguf.MODEL_ARCH.QWEN2, gguf.MODEL_ARCH.QWEN3):
            # bytes 0..n-2 as byte-level characters, one merge (llama.cpp needs merges)
            b2u = goldens_common.bytes_to_unicode()
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre("qwen2")
            w.add_token_list([b2u[b] for b in range(n - 1)] + [b2u[32] * 2])
            w.add_token_types([1] * n)
            w.add_token_merges([f"{b2u[32]} {b2u[32]}"])
        else:  # llama.cpp's Phi-3 vocabulary needs <|endoftext|> and <|end|>
            w.add_tokenizer_model("llama")
            w.add_tokenizer_pre("default")
            w.add_token_list(["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(n - 5)] + ["<|endoftext|>", "<|end|>"])
            w.add_token_scores([0.0] * n)
            w.add_token_types([2, 3, 3] + [6] * (n - 5) + [3, 3])
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)

    for cls in set(model_base._model_classes[conv["ModelType"].TEXT].values()):
        if "set_vocab" in cls.__dict__:
            cls.set_vocab = placeholder_vocab
    text_model.set_vocab = placeholder_vocab
    # Gemma 3 trims the embedding to the SentencePiece vocabulary: ours has exactly vocab_size tokens.
    conv["Gemma3Model"]._create_vocab_sentencepiece = lambda self: ([b""] * self.hparams["vocab_size"], None, None)

    original_load = model_base.load_hparams

    def load_hparams_v4(dir_model, *args):
        config = original_load(dir_model, *args)
        rp = config.get("rope_parameters")
        if isinstance(rp, dict):
            if "full_attention" in rp:  # Gemma 3: per layer type
                config["rope_local_base_freq"] = rp["sliding_attention"]["rope_theta"]
                rp = rp["full_attention"]
            config["rope_theta"] = rp["rope_theta"]
            if rp.get("rope_type", "default") != "default":
                config["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}
            if "partial_rotary_factor" in rp:
                config["partial_rotary_factor"] = rp["partial_rotary_factor"]
        return config
    model_base.load_hparams = staticmethod(load_hparams_v4)

    def with_gemma_keys(cls, pattern):
        original = cls.set_gguf_parameters

        def set_gguf_parameters(self):
            original(self)
            h, w, arch = self.hparams, self.gguf_writer, self.gguf_writer.arch
            if h.get("query_pre_attn_scalar") not in (None, h["head_dim"]):
                w.add_float32(f"{arch}.attention.scale", h["query_pre_attn_scalar"] ** -0.5)
            sliding = [t == "sliding_attention" for t in h["layer_types"]]
            if pattern and sliding != [i % 6 < 5 for i in range(len(sliding))]:  # not llama.cpp's default
                w.add_array(f"{arch}.attention.sliding_window_pattern", sliding)
                w.add_float32(f"{arch}.rope.freq_base_swa", h["rope_local_base_freq"])
        cls.set_gguf_parameters = set_gguf_parameters
    with_gemma_keys(conv["Gemma2Model"], False)
    with_gemma_keys(conv["Gemma3Model"], True)


def convert():
    import torch
    from transformers import AutoModelForCausalLM
    conv = load_converter()
    for name in MODELS:
        d = OUT / name
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / name
            shutil.copytree(d / "f32", src)
            sys.argv = ["convert_hf_to_gguf.py", str(src), "--outtype", "f32", "--outfile", str(d / "gguf-f32.gguf")]
            conv["main"]()
        goldens = json.loads((d / "goldens.json").read_text())
        model = AutoModelForCausalLM.from_pretrained(d / "f32", dtype=torch.float32, attn_implementation="eager").eval()
        cases = []
        for i in QUANT_PROMPTS:
            ids = goldens["cases"][i]["ids"]
            path, top5 = goldens_common.top5_path(model, ids, QUANT_STEPS)
            cases.append({"ids": ids, "greedy": path, "top5": top5})
        (d / "goldens_gguf.json").write_text(json.dumps({"steps": QUANT_STEPS, "cases": cases}, separators=(",", ":")) + "\n")
        print(name, "converted")
    convert_gemma3_defaults(conv)


def load_tiny_models():
    import importlib.util
    spec = importlib.util.spec_from_file_location("tiny_models", pathlib.Path(__file__).with_name("tiny_models.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convert_gemma3_defaults(conv):
    """A 7-layer Gemma 3 whose layout is what llama.cpp assumes when a file says nothing (layer 5 global, the rest
    sliding; local rope base 10000; attention scale 1/sqrt(head_dim)): its file has none of the extra keys, so the
    test checks our fallbacks against transformers and llama.cpp. Only the GGUF and the goldens are kept."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    tm = load_tiny_models()
    config = transformers.Gemma3TextConfig(**tm.cfg(tie_word_embeddings=True, num_hidden_layers=7, sliding_window=16,
                                                    query_pre_attn_scalar=16))
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32).eval()
    tm.randomize(model, 200)
    d = OUT / GEMMA3_DEFAULTS
    d.mkdir(parents=True, exist_ok=True)
    prompts = [c["ids"] for c in json.loads((OUT / "gemma3" / "goldens.json").read_text())["cases"]]
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / GEMMA3_DEFAULTS
        model.save_pretrained(src, safe_serialization=True)
        sys.argv = ["convert_hf_to_gguf.py", str(src), "--outtype", "f32", "--outfile", str(d / "gguf-f32.gguf")]
        conv["main"]()
    cases = []
    for ids in prompts:
        n = len(ids)
        positions = sorted({0, n // 3, n // 2, n - 1})
        cases.append({"ids": ids, "positions": positions, "f32": tm.logits_at(model, ids, positions),
                      "greedy": tm.greedy(model, ids, tm.CONTINUE) if n <= 40 or n == 200 else []})
    (d / "goldens.json").write_text(json.dumps({"model_type": config.model_type, "transformers": transformers.__version__,
                                                "cases": cases}, separators=(",", ":")) + "\n")
    print(GEMMA3_DEFAULTS, "converted")


def quantize():
    import ctypes
    import llama_cpp
    for name in MODELS:
        d = OUT / name
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
        rc = llama_cpp.llama_model_quantize(str(d / "gguf-f32.gguf").encode(), str(d / "gguf-q8_0.gguf").encode(),
                                            ctypes.byref(params))
        if rc != 0:
            sys.exit(f"llama_model_quantize failed for {name}: {rc}")
        print(name, "quantized")


def llama_cpp_logits():
    """llama.cpp's own logits on the F32 files (float32 K/V, one thread) at the positions of goldens.json."""
    import llama_cpp
    for name in LLAMA_CPP_MODELS:
        d = OUT / name
        goldens = json.loads((d / "goldens.json").read_text())
        llm = llama_cpp.Llama(model_path=str(d / "gguf-f32.gguf"), n_ctx=512, n_batch=512, logits_all=True, n_threads=1,
                              type_k=0, type_v=0, flash_attn=False, verbose=False)
        cases = []
        for c in goldens["cases"]:
            llm.reset()
            llm.eval(c["ids"])
            cases.append({"ids": c["ids"], "positions": c["positions"],
                          "logits": [[round(float(v), 6) for v in llm.scores[p]] for p in c["positions"]]})
        (d / "goldens_llama_cpp.json").write_text(json.dumps({"llama_cpp_python": llama_cpp.__version__, "cases": cases},
                                                             separators=(",", ":")) + "\n")
        print(name, "llama.cpp logits written")


def main():
    steps = sys.argv[1:] or ["convert", "quantize"]
    if "convert" in steps:
        convert()
    if "quantize" in steps:
        quantize()
        llama_cpp_logits()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tiny random models, one per supported architecture, made by `transformers` from small seeded configs, and
transformers' own logits and greedy continuations for them (the goldens of tests/model/tiny_models_test.cpp).

For each model NAME it writes tests/data/tiny_models/NAME/:
  f32/     config.json, generation_config.json, model.safetensors (float32), as save_pretrained writes them
  bf16/    the same weights saved in bfloat16
  model-f32.gguf  (llama-arch models) the f32 weights converted to GGUF as llama.cpp's converter does
  model-q8_0.gguf, model-q4_0.gguf, model-q4_1.gguf, goldens_quant.json  (llama) quantized with the gguf package;
                transformers' greedy paths and top-5 ids on the dequantized weights
  sharded/ (llama only) the f32 weights split into shards + model.safetensors.index.json
  goldens.json  prompts (token ids), logits at a few positions of each prompt from
                - f32: the f32 model in float32 (eager attention),
                - bf16: the bf16 model computing in bfloat16,
                - bf16_weights_f32: the bf16 weights upcast, computing in float32,
                and greedy 64-token continuations of the f32 model.

Needs torch + transformers (requirements/ref.txt); CI only reads the committed output.
Run:  python tools/goldens/tiny_models.py [NAME ...]   (deterministic: fixed seeds, no timestamps)
      python tools/goldens/tiny_models.py --gguf        (only the GGUF conversions of the saved f32 models)
"""
import json
import pathlib
import shutil
import sys

import goldens_common  # (before the line below: it lives in this folder)

# Keep this folder off sys.path so no script name here can ever shadow an installed package.
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != pathlib.Path(__file__).resolve().parent]

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "tiny_models"
VOCAB = 128
PROMPT_LENGTHS = [1, 3, 8, 17, 40, 77, 128, 200]
CONTINUE = 64
TOKENIZER_VOCAB = 320  # smollm2's (it has a tokenizer, see make_tokenizer)

COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, max_position_embeddings=512, rms_norm_eps=1e-5,
              bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)


def cfg(**kw):
    c = dict(COMMON)
    c.update(kw)
    return c


# name -> (config class name, kwargs). Small windows and scaling factors so every code path is exercised by
# prompts of up to 200 tokens.
MODELS = {
    "llama": ("LlamaConfig", cfg(rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "llama31": ("LlamaConfig", cfg(rope_parameters={
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
    "llama_linear": ("LlamaConfig", cfg(rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0})),
    "llama_yarn": ("LlamaConfig", cfg(rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128})),
    "smollm2": ("LlamaConfig", cfg(tie_word_embeddings=True, num_key_value_heads=4, vocab_size=TOKENIZER_VOCAB,
                                   rope_parameters={"rope_type": "default", "rope_theta": 100000.0})),
    "mistral": ("MistralConfig", cfg(sliding_window=24, rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    "qwen2": ("Qwen2Config", cfg(tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    "qwen3": ("Qwen3Config", cfg(rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    "gemma": ("GemmaConfig", cfg(tie_word_embeddings=True, hidden_act="gelu_pytorch_tanh",
                                 hidden_activation="gelu_pytorch_tanh", num_key_value_heads=1)),
    "gemma2": ("Gemma2Config", cfg(tie_word_embeddings=True, sliding_window=16, query_pre_attn_scalar=24,
                                   attn_logit_softcapping=5.0, final_logit_softcapping=3.0)),
    "gemma3": ("Gemma3TextConfig", cfg(tie_word_embeddings=True, sliding_window=16, query_pre_attn_scalar=24,
                                       num_hidden_layers=3, layer_types=["sliding_attention", "full_attention",
                                                                         "sliding_attention"],
                                       rope_parameters={
                                           "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                           "full_attention": {"rope_type": "linear", "rope_theta": 1e6,
                                                              "factor": 2.0}})),
    "phi3": ("Phi3Config", {k: v for k, v in cfg(hidden_size=64, sliding_window=None).items() if k != "head_dim"}),
    "mixtral": ("MixtralConfig", cfg(num_local_experts=4, num_experts_per_tok=2,
                                     rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
}


# smollm2 also gets a tokenizer (byte-level BPE with SmolLM2's digit split and ChatML tokens, trained here on a
# few sentences) so that a whole model directory loads end to end (tests/model/tiny_models_test.cpp).
CORPUS = [
    "The capital of France is Paris. The capital of Italy is Rome. The capital of Spain is Madrid.",
    "Once upon a time, there was a little fox who lived in the forest near the river.",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10. Numbers like 2024 and 3.14159 are split into digits.",
    "Hello world! How are you today? I am fine, thank you. Let us write some code together.",
]
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                 "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                 "{% endif %}")
TEXTS = ["The capital of France is", "def fibonacci(n):\n", "Numbers 12345 and 3.14", "Hello world! ñ 漢字 🙂"]


def make_tokenizer(out_dir):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_VOCAB, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    assert tok.get_vocab_size() == TOKENIZER_VOCAB, tok.get_vocab_size()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def randomize(model, seed):
    """Replaces every parameter with seeded noise of a size that gives varied, non-degenerate logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if p.dim() == 1 and "norm" in name:
                base = 0.0 if "gemma" in model.config.model_type else 1.0
                p.copy_(base + 0.2 * noise)
            elif p.dim() == 1:
                p.copy_(0.2 * noise)  # biases
            else:
                p.copy_(noise / (p.shape[-1] ** 0.5))


def logits_at(model, ids, positions):
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=False).logits[0].to(torch.float32)
    return [[round(float(v), 7) for v in out[p]] for p in positions]


def greedy(model, ids, steps):
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            ids.append(nxt)
    return out


# llama-arch models also written as GGUF F32 the way llama.cpp's convert_hf_to_gguf.py writes them: Q/K rows
# permuted for interleaved RoPE, llama3 scaling as a rope_freqs tensor, linear scaling as rope.scaling keys.
GGUF_MODELS = ["llama", "llama31", "llama_linear", "smollm2"]


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(rope, dim):
    import math
    base, factor = rope["rope_theta"], rope["factor"]
    low, high, old = rope["low_freq_factor"], rope["high_freq_factor"], rope["original_max_position_embeddings"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    out = []
    for freq in freqs.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < old / high:
            out.append(1.0)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32).numpy()


def write_gguf(d, qtype=None, file_name="model-f32.gguf", sd=None):
    """`qtype` (a gguf.GGMLQuantizationType): matrices quantized with the gguf package (norms stay F32)."""
    import gguf
    model = AutoModelForCausalLM.from_pretrained(d / "f32", dtype=torch.float32)
    c = model.config
    if sd is None:
        sd = {k: v.numpy() for k, v in model.state_dict().items()}
    w = gguf.GGUFWriter(str(d / file_name), "llama")
    add_tensor = w.add_tensor
    if qtype is not None:
        def add_tensor(name, data):
            if data.ndim == 2:
                w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
            else:
                w.add_tensor(name, data)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_rope_dimension_count(c.head_dim)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    rope = c.rope_parameters
    w.add_rope_freq_base(rope["rope_theta"])
    if rope["rope_type"] == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope["factor"])
    if rope["rope_type"] == "llama3":
        add_tensor("rope_freqs.weight", llama3_rope_factors(rope, c.head_dim))
    add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    add_tensor("output_norm.weight", sd["model.norm.weight"])
    if not c.tie_word_embeddings:
        add_tensor("output.weight", sd["lm_head.weight"])
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj",
                 "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
        for ours, theirs in names.items():
            add_tensor(f"blk.{i}.{ours}.weight", sd[p + theirs + ".weight"])
        add_tensor(f"blk.{i}.attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"], c.num_attention_heads))
        add_tensor(f"blk.{i}.attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"], c.num_key_value_heads))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# Quantized GGUF (llama only): the reference is transformers on the dequantized weights, so both sides run the
# same numbers; the test checks vLLM's rule (our top-1 within the reference's top-5 at every step).
QUANT_TYPES = ["Q8_0", "Q4_0", "Q4_1"]
QUANT_PROMPTS = [1, 3, 5, 7]  # indexes into PROMPT_LENGTHS
QUANT_STEPS = 32


def write_quant_goldens(prompts):
    import gguf
    d = OUT / "llama"
    out = {"steps": QUANT_STEPS, "types": {}}
    for qname in QUANT_TYPES:
        qtype = getattr(gguf.GGMLQuantizationType, qname)
        model = AutoModelForCausalLM.from_pretrained(d / "f32", dtype=torch.float32, attn_implementation="eager").eval()
        sd = {k: v.numpy() for k, v in model.state_dict().items()}
        with torch.no_grad():
            for k, p in model.named_parameters():
                if p.dim() == 2:
                    p.copy_(torch.from_numpy(gguf.quants.dequantize(gguf.quants.quantize(sd[k], qtype), qtype)))
        write_gguf(d, qtype, f"model-{qname.lower()}.gguf", sd)
        cases = []
        for i in QUANT_PROMPTS:
            ids = list(prompts[i])
            path, top5 = goldens_common.top5_path(model, ids, QUANT_STEPS)
            cases.append({"ids": ids, "greedy": path, "top5": top5})
        out["types"][qname] = cases
    (d / "goldens_quant.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")


def main():
    if sys.argv[1:] == ["--gguf"]:  # only (re)write the GGUF conversions of the saved f32 models
        for name in GGUF_MODELS:
            write_gguf(OUT / name)
        g = torch.Generator().manual_seed(1234)
        write_quant_goldens([torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in PROMPT_LENGTHS])
        return
    only = sys.argv[1:]  # optional model names to regenerate; default: all
    torch.manual_seed(0)
    if OUT.exists() and not only:
        shutil.rmtree(OUT)
    g = torch.Generator().manual_seed(1234)
    prompts = [torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
    for seed, (name, (cls_name, kw)) in enumerate(MODELS.items()):
        if only and name not in only:
            continue
        if (OUT / name).exists():
            shutil.rmtree(OUT / name)
        config = getattr(transformers, cls_name)(**kw)
        config._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32).eval()
        randomize(model, 100 + seed)
        d = OUT / name
        model.save_pretrained(d / "f32", safe_serialization=True)
        if name == "llama":
            model.save_pretrained(d / "sharded", safe_serialization=True, max_shard_size="40KB")
        model_bf16 = AutoModelForCausalLM.from_pretrained(d / "f32", dtype=torch.bfloat16, attn_implementation="eager").eval()
        model_bf16.save_pretrained(d / "bf16", safe_serialization=True)
        model_bf16_f32 = AutoModelForCausalLM.from_pretrained(d / "bf16", dtype=torch.float32, attn_implementation="eager").eval()
        cases = []
        for ids in prompts:
            n = len(ids)
            positions = sorted({0, n // 3, n // 2, n - 1})
            cases.append({
                "ids": ids,
                "positions": positions,
                "f32": logits_at(model, ids, positions),
                "bf16": logits_at(model_bf16, ids, positions),
                "bf16_weights_f32": logits_at(model_bf16_f32, ids, positions),
                "greedy": greedy(model, ids, CONTINUE) if n <= 40 or n == 200 else [],
            })
        text_cases = []
        if name == "smollm2":
            tok = make_tokenizer(d / "f32")
            for text in TEXTS:
                ids = tok(text, add_special_tokens=False)["input_ids"]
                text_cases.append({"text": text, "ids": ids, "greedy": greedy(model, ids, 16)})
        golden = {"model_type": config.model_type, "text_cases": text_cases, "transformers": transformers.__version__,
                  "torch": torch.__version__, "cases": cases}
        (d / "goldens.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")
        if name in GGUF_MODELS:
            write_gguf(d)
        if name == "llama":
            write_quant_goldens(prompts)
        print(name, "written")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Two random LoRA adapters made by `peft` for the tiny smollm2 model (tests/data/tiny_models/smollm2/f32, a
llama-family model with a tokenizer), and the logits and greedy continuations of transformers + peft with each
adapter and without (the goldens of tests/model/lora_model_test.cpp and tests/e2e/test_lora.py).

It writes tests/data/lora/:
  alpha/  adapter_config.json + adapter_model.safetensors: r=8, lora_alpha=16, q/k/v/o projections
  beta/   the same files: r=4, lora_alpha=6, every linear of the blocks (q/k/v/o, gate/up/down)
  goldens.json  prompts (token ids), for "base", "alpha", "beta": logits at a few positions of each prompt
                (float32, eager attention) and the greedy continuation (ids) of a text prompt longer than a KV block
and, for the GGUF llama path (grouped-query attention: the tiny `llama` model, 4 query heads over 2 K/V heads, whose
GGUF files tiny_models.py wrote with llama.cpp's Q/K row permutation):
  gamma/  r=8, lora_alpha=16, every linear of the blocks, for tests/data/tiny_models/llama/f32
  goldens_gqa.json  the same prompts' logits and a greedy continuation for "base" and "gamma" (peft on the f32
                weights), and per quantized type (Q8_0, Q4_1) transformers + peft's greedy path with its top-5 ids at
                every step on the weights the gguf package's quantization gives back (the rule of the quant tests)

and, for the other architectures the shared decoder serves adapters on (one adapter each, r=8 on every linear of
the blocks, for tests/data/tiny_models/<arch>/f32):
  families/<arch>/  the adapter, for mistral, qwen2, qwen3, gemma, gemma2, gemma3 and phi3 (whose checkpoints
                    fuse q|k|v and gate|up: its adapter targets qkv_proj, o_proj, gate_up_proj, down_proj)
  goldens_families.json  per arch: prompts, positions, logits for "base" and "adapter"

Needs torch + transformers + peft (requirements/ref.txt); CI only reads the committed output.
Run:  python tools/goldens/lora_adapters.py   (deterministic: fixed seeds, no timestamps)
      python tools/goldens/lora_adapters.py --gqa   (only gamma/ and goldens_gqa.json)
      python tools/goldens/lora_adapters.py --families   (only families/ and goldens_families.json)
"""
import json
import pathlib
import shutil
import sys

import goldens_common  # (before the line below: these live in this folder)
from tiny_models import greedy, logits_at

# Keep this folder off sys.path so no script name here can ever shadow an installed package.
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != pathlib.Path(__file__).resolve().parent]

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = ROOT / "tests" / "data" / "tiny_models" / "smollm2" / "f32"
OUT = ROOT / "tests" / "data" / "lora"
ADAPTERS = {
    "alpha": dict(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], seed=11),
    "beta": dict(r=4, lora_alpha=6, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                    "up_proj", "down_proj"], seed=12),
}
GQA_BASE = ROOT / "tests" / "data" / "tiny_models" / "llama" / "f32"
GQA_ADAPTER = dict(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                      "up_proj", "down_proj"], seed=13)
GQA_QUANT_TYPES = ["Q8_0", "Q4_1"]  # tiny_models.py's model-q8_0.gguf and model-q4_1.gguf
GQA_QUANT_STEPS = 16
PROMPT_LENGTHS = [5, 23]
TEXT = "The capital of France is Paris. The capital of Italy is Rome. The capital of Spain is"
CONTINUE = 12


def base_model(path=BASE):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()


def randomize_lora(model, seed):
    """peft starts B at zero (the adapter is then a no-op): seeded noise in A and B instead, scaled so that the
    adapter visibly moves the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_A" in name or "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) / (p.shape[-1] ** 0.5))


def save_adapter(model, name, base):
    model.save_pretrained(OUT / name)
    # save_pretrained also writes a README.md model card: not needed by anything.
    (OUT / name / "README.md").unlink(missing_ok=True)
    # The base's path relative to the repository, not this checkout's absolute path; a fixed order.
    cfg_path = OUT / name / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = str(base.relative_to(ROOT))
    cfg["target_modules"] = sorted(cfg["target_modules"])  # peft saves a set: no fixed order
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def peft_model(spec, base):
    config = LoraConfig(r=spec["r"], lora_alpha=spec["lora_alpha"], target_modules=spec["target_modules"],
                        lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    randomize_lora(model, spec["seed"])
    return model.eval()


def write_gqa():
    """gamma/ and goldens_gqa.json (see the docstring)."""
    import gguf
    g = torch.Generator().manual_seed(6)
    vocab = base_model(GQA_BASE).config.vocab_size
    prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
    positions = [sorted({0, n // 2, n - 1}) for n in PROMPT_LENGTHS]
    golden = {"prompts": prompts, "positions": positions, "models": {}, "quant": {"steps": GQA_QUANT_STEPS}}
    if (OUT / "gamma").exists():
        shutil.rmtree(OUT / "gamma")
    models = {"base": base_model(GQA_BASE), "gamma": peft_model(GQA_ADAPTER, base_model(GQA_BASE))}
    save_adapter(models["gamma"], "gamma", GQA_BASE)
    for name, model in models.items():
        golden["models"][name] = {
            "logits": [logits_at(model, p, pos) for p, pos in zip(prompts, positions)],
            "greedy_ids": greedy(model, prompts[1], CONTINUE),
        }
    for qname in GQA_QUANT_TYPES:
        qtype = getattr(gguf.GGMLQuantizationType, qname)
        base = base_model(GQA_BASE)
        with torch.no_grad():  # the base's matrices as the quantized file holds them (the adapter stays float32)
            for _, p in base.named_parameters():
                if p.dim() == 2:
                    q = gguf.quants.quantize(p.detach().numpy(), qtype)
                    p.copy_(torch.from_numpy(gguf.quants.dequantize(q, qtype)))
        model = peft_model(GQA_ADAPTER, base)
        cases = []
        for ids in prompts:
            path, top5 = goldens_common.top5_path(model, list(ids), GQA_QUANT_STEPS)
            cases.append({"ids": list(ids), "greedy": path, "top5": top5})
        golden["quant"][qname] = cases
    (OUT / "goldens_gqa.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")


FAMILIES = ["mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3"]
ALL_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FUSED_LINEARS = {"phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]}


def write_families():
    """families/<arch>/ and goldens_families.json (see the docstring)."""
    golden = {}
    if (OUT / "families").exists():
        shutil.rmtree(OUT / "families")
    for i, arch in enumerate(FAMILIES):
        base_dir = ROOT / "tests" / "data" / "tiny_models" / arch / "f32"
        g = torch.Generator().manual_seed(100 + i)
        vocab = base_model(base_dir).config.vocab_size
        prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
        positions = [sorted({0, n // 2, n - 1}) for n in PROMPT_LENGTHS]
        spec = dict(r=8, lora_alpha=16, target_modules=FUSED_LINEARS.get(arch, ALL_LINEARS), seed=200 + i)
        models = {"base": base_model(base_dir), "adapter": peft_model(spec, base_model(base_dir))}
        save_adapter(models["adapter"], f"families/{arch}", base_dir)
        golden[arch] = {"prompts": prompts, "positions": positions, "models": {
            name: {"logits": [logits_at(m, p, pos) for p, pos in zip(prompts, positions)]}
            for name, m in models.items()}}
    (OUT / "goldens_families.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")


def main():
    if sys.argv[1:] == ["--gqa"]:
        write_gqa()
        return
    if sys.argv[1:] == ["--families"]:
        write_families()
        return
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(BASE)
    g = torch.Generator().manual_seed(5)
    vocab = base_model().config.vocab_size
    prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]
    positions = [sorted({0, n // 2, n - 1}) for n in PROMPT_LENGTHS]
    text_ids = tok(TEXT)["input_ids"]
    golden = {"prompts": prompts, "positions": positions, "text": TEXT, "text_ids": text_ids, "models": {}}

    def record(name, model):
        cont = greedy(model, text_ids, CONTINUE)
        golden["models"][name] = {
            "logits": [logits_at(model, p, pos) for p, pos in zip(prompts, positions)],
            "greedy_ids": cont,
        }

    record("base", base_model())
    if OUT.exists():
        shutil.rmtree(OUT)
    for name, spec in ADAPTERS.items():
        model = peft_model(spec, base_model())
        save_adapter(model, name, BASE)
        record(name, model)
    (OUT / "goldens.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    write_gqa()
    write_families()


if __name__ == "__main__":
    main()

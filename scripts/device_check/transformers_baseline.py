"""The GPU peer of stage (e): a transformers `generate` loop in bf16 on the benchmark's shapes (random weights from
the same config.json, as LOAD_FORMAT=dummy), timed with CUDA synchronization. Prints one JSON object.

  tg128      batch 1: a 1-token prompt, 128 new tokens (min_new_tokens forces all of them), tokens/s
  pp2048     batch 1: one forward over 2048 tokens, tokens/s
  streams    128 prompts of 512 tokens, 128 new tokens each, output tokens/s
"""

import argparse
import json
import time

import torch
import transformers


def timed(fn, reps=1):
    fn()  # warm-up
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="a directory with config.json")
    ap.add_argument("--streams", type=int, default=128)
    ap.add_argument("--input-len", type=int, default=512)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--prompt-len", type=int, default=2048)
    args = ap.parse_args()
    config = transformers.AutoConfig.from_pretrained(args.config)
    t0 = time.perf_counter()
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    model.eval()
    torch.cuda.synchronize()
    out = {"peer": f"transformers {transformers.__version__} generate, torch {torch.__version__}, bf16, sdpa",
           "init_seconds": round(time.perf_counter() - t0, 2)}
    vocab = config.vocab_size
    gen = dict(do_sample=False, pad_token_id=0, eos_token_id=None)

    with torch.inference_mode():
        one = torch.randint(1000, vocab - 1000, (1, 1), device="cuda")
        n = args.output_len
        s = timed(lambda: model.generate(one, max_new_tokens=n, min_new_tokens=n, **gen))
        out["tg128_tokens_per_s"] = n / s
        long = torch.randint(1000, vocab - 1000, (1, args.prompt_len), device="cuda")
        s = timed(lambda: model(long, use_cache=False, logits_to_keep=1), reps=3)
        out["pp2048_tokens_per_s"] = args.prompt_len / s
        batch = torch.randint(1000, vocab - 1000, (args.streams, args.input_len), device="cuda")
        s = timed(lambda: model.generate(batch, max_new_tokens=n, min_new_tokens=n, **gen))
        out["streams_output_tokens_per_s"] = args.streams * n / s
        out["streams_total_tokens_per_s"] = args.streams * (n + args.input_len) / s
    print(json.dumps(out))


if __name__ == "__main__":
    main()

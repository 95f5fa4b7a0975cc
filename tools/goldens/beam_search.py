"""Goldens for podserve's beam search (tests/data/beam_search.json): vLLM 0.32.0's own online beam search
(`BeamSearchOnlineMixin.beam_search`, vllm/entrypoints/generate/beam_search/online.py, the code behind
`use_beam_search` in /v1/completions and /v1/chat/completions) run on the tiny random SmolLM2 of
tools/goldens/tiny_models.py (tests/data/tiny_models/smollm2/f32).

vLLM's beam search drives its engine through `engine_client.generate(prompt, SamplingParams(logprobs=2*width,
max_tokens=1, temperature))` once per beam and step; here that engine is transformers running the model in float32
(each call runs the whole sequence; the logprobs are log_softmax of the raw logits, as vLLM's default
logprobs_mode "raw_logprobs"). Everything else (candidates, EOS handling, pruning, get_beam_search_score's length
penalty, the final ranking and text) is vLLM's code, unchanged. Temperature 0 so the sampled token is the top one.

Beam search ranks sums of float32 logprobs, so a near-tie could flip between two correct implementations: each case
is run again with the logprobs nudged by +-2e-4 (two seeds) and kept only if every run returns the same beams.

Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/beam_search.py` (~2 min).
"""
import asyncio
import json
import random
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "data" / "tiny_models" / "smollm2" / "f32"
OUT = ROOT / "tests" / "data" / "beam_search.json"
# Keep this folder off sys.path so no script name here can ever shadow an installed package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from vllm.entrypoints.generate.beam_search.online import BeamSearchOnlineMixin  # noqa: E402
from vllm.logprobs import Logprob  # noqa: E402
from vllm.sampling_params import BeamSearchParams  # noqa: E402

NUDGE = 2e-4


class TransformersEngine:
    """The part of vLLM's EngineClient that beam_search calls, computing with transformers."""

    def __init__(self, model):
        self.model = model
        self.input_processor = types.SimpleNamespace(resolve_watermarking=lambda params: None)
        self.noise = None  # (generator) when nudging the logprobs
        self.cache = {}

    def logprobs(self, tokens):
        key = tuple(tokens)
        if key not in self.cache:
            with torch.no_grad():
                logits = self.model(torch.tensor([tokens]), use_cache=False).logits[0, -1].float()
            self.cache[key] = torch.log_softmax(logits, dim=-1)
        lp = self.cache[key]
        if self.noise is not None:
            lp = lp + (torch.rand(lp.shape, generator=self.noise) * 2 - 1) * NUDGE
        return lp

    async def generate(self, prompt, sampling_params, request_id, **kwargs):
        lp = self.logprobs(list(prompt["prompt_token_ids"]))
        top = torch.topk(lp, sampling_params.logprobs)
        entries = {}
        # vLLM's logprobs dict: the sampled token first (greedy: the top one), then the top-k by rank.
        for rank, (value, token) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
            entries.setdefault(int(token), Logprob(logprob=float(value), rank=rank))
        output = types.SimpleNamespace(finish_reason="length", logprobs=[entries])
        yield types.SimpleNamespace(outputs=[output])


class Server(BeamSearchOnlineMixin):
    def __init__(self, model, tokenizer):
        self.engine_client = TransformersEngine(model)
        self.renderer = types.SimpleNamespace(get_tokenizer=lambda: tokenizer)


async def run(server, prompt_ids, params):
    prompt = {"type": "token", "prompt_token_ids": prompt_ids}
    outputs = [o async for o in server.beam_search(prompt, "golden", params)]
    return [{"token_ids": list(c.token_ids), "text": c.text, "cumulative_logprob": c.cumulative_logprob,
             "finish_reason": c.finish_reason} for c in outputs[-1].outputs]


def eos_friendly_prompt(engine, rng, vocab, eos):
    """Of 200 random prompts, the one after which EOS ranks highest: the random model rarely ranks EOS high, and
    these make the search end beams by EOS (vLLM's EOS handling: any EOS among a beam's candidates)."""
    best, best_rank = None, None
    for _ in range(200):
        ids = [rng.randrange(3, vocab) for _ in range(rng.randrange(2, 9))]
        lp = engine.logprobs(ids)
        rank = int((lp > lp[eos]).sum())
        if best_rank is None or rank < best_rank:
            best, best_rank = ids, rank
    return best


def same_beams(a, b):
    return [x["token_ids"] for x in a] == [x["token_ids"] for x in b]


def main():
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, attn_implementation="eager", dtype=torch.float32).eval()
    server = Server(model, tokenizer)
    rng = random.Random(17)
    vocab = model.config.vocab_size
    configs = [  # (width, max_tokens, length_penalty, ignore_eos, include_stop_str_in_output)
        (1, 6, 1.0, False, False), (2, 8, 1.0, False, False), (3, 8, 0.0, False, True), (4, 10, 1.0, False, False),
        (4, 10, 2.0, False, True), (3, 12, -1.0, False, False), (2, 10, 1.0, True, False), (5, 6, 0.5, False, False),
        (4, 20, 0.0, False, False), (6, 16, 0.0, False, True),
    ]
    cases = []
    eos_stops = 0
    for prompt_index in range(50):
        if prompt_index % 3 == 0:
            prompt_ids = eos_friendly_prompt(server.engine_client, rng, vocab, tokenizer.eos_token_id)
        else:
            prompt_ids = [rng.randrange(3, vocab) for _ in range(rng.choice([1, 3, 7, 16, 17, 30]))]
        width, max_tokens, length_penalty, ignore_eos, include_stop = configs[prompt_index % len(configs)]
        params = BeamSearchParams(beam_width=width, max_tokens=max_tokens, ignore_eos=ignore_eos, temperature=0.0,
                                  length_penalty=length_penalty, include_stop_str_in_output=include_stop)
        server.engine_client.noise = None
        beams = asyncio.run(run(server, prompt_ids, params))
        stable = True
        for seed in (1, 2):
            server.engine_client.noise = torch.Generator().manual_seed(seed)
            stable = stable and same_beams(beams, asyncio.run(run(server, prompt_ids, params)))
        if not stable:
            continue
        eos_stops += sum(b["finish_reason"] == "stop" for b in beams)
        cases.append({"prompt_token_ids": prompt_ids, "n": width, "max_tokens": max_tokens,
                      "length_penalty": length_penalty, "ignore_eos": ignore_eos,
                      "include_stop_str_in_output": include_stop, "beams": beams})
    doc = {"source": "vLLM 0.32.0 BeamSearchOnlineMixin.beam_search on transformers float32 logprobs "
                     "(tools/goldens/beam_search.py)",
           "model": "tests/data/tiny_models/smollm2/f32", "eos_token_id": tokenizer.eos_token_id, "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(cases)} stable cases of 50, {eos_stops} beams ended by EOS -> {OUT}")


if __name__ == "__main__":
    main()

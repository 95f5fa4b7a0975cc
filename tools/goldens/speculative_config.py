"""Goldens for SPECULATIVE_CONFIG parsing (tests/data/speculative_config.json), from vLLM 0.32.0's own
SpeculativeConfig (vllm/config/speculative.py) on JSON objects a user could pass: what it resolves (method, k,
prompt lookup window) or the first validation error (its field and message).

Only cases vLLM can decide without loading a draft model are here (the n-gram method and the errors raised before
any model is read); podserve's refusals of the model-based methods are its own and tested by hand.
Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/speculative_config.py`.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "speculative_config.json"

CASES = [
    {"method": "ngram", "num_speculative_tokens": 3},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 4},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 2},
    {"method": "ngram", "num_speculative_tokens": 5, "prompt_lookup_max": 6, "prompt_lookup_min": 2},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 4, "prompt_lookup_max": 2},
    {"method": "ngram", "num_speculative_tokens": 0},
    {"method": "ngram", "num_speculative_tokens": -2},
    {"method": "ngram", "num_speculative_tokens": 3, "foo": 1},
    {"method": "ngram", "num_speculative_tokens": 3, "disable_by_batch_size": 4},
    {"model": "ngram", "num_speculative_tokens": 2},
    {"model": "[ngram]", "num_speculative_tokens": 2},
    {"method": "[ngram]", "num_speculative_tokens": 2},
    {"method": "ngram"},
    {"num_speculative_tokens": 3},
    {"method": "eagle", "num_speculative_tokens": 3},
    {"method": "draft_model", "num_speculative_tokens": 3},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 0},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 0},
    {"method": "ngram", "num_speculative_tokens": "x"},
    {"method": "ngram", "num_speculative_tokens": "4"},
    {"method": "ngram", "num_speculative_tokens": 2.5},
    {"method": "ngram", "num_speculative_tokens": 2.0},
    {"method": "ngram", "num_speculative_tokens": [3]},
    {"method": "bogus", "num_speculative_tokens": 3},
    {"method": 7, "num_speculative_tokens": 3},
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": None},
    {"method": "ngram", "num_speculative_tokens": 3, "enforce_eager": True, "max_model_len": 64},
]


def main():
    from pydantic import ValidationError
    from vllm.config import SpeculativeConfig
    rows = []
    for case in CASES:
        try:
            c = SpeculativeConfig(**case)
            rows.append({"config": case, "method": c.method, "num_speculative_tokens": c.num_speculative_tokens,
                         "prompt_lookup_min": c.prompt_lookup_min, "prompt_lookup_max": c.prompt_lookup_max})
        except ValidationError as e:
            first = e.errors()[0]
            msg = first["msg"].removeprefix("Value error, ")
            rows.append({"config": case, "error_field": ".".join(str(x) for x in first["loc"]), "error": msg})
    OUT.write_text(json.dumps({"source": "vllm 0.32.0 SpeculativeConfig", "cases": rows}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(rows)} cases)")


if __name__ == "__main__":
    main()

"""Goldens of GENERATION_CONFIG: generation_config.json folders (tests/data/generation_configs/<case>/) and the
sampling defaults vLLM 0.32 takes from each (tests/data/generation_configs/expected.json).

The defaults are transformers' GenerationConfig.from_pretrained(folder).to_diff_dict() (transformers 5: every
sampling default is None, so any value present counts), the override merged on top, then vLLM's
ModelConfig.get_diff_sampling_param filter: eight keys, None dropped, max_new_tokens renamed max_tokens; `log` is
that dict as vLLM's warning prints it (str(dict)). When vLLM itself is importable (its own venv), its
get_diff_sampling_param is run too and must agree.

`eos_token_ids` are the file's eos_token_id (GenerationConfig.from_pretrained(folder).to_diff_dict(), the override
aside), sorted: the ids vLLM's SamplingParams.update_from_generation_config adds to every request's stop_token_ids
(less the tokenizer's own EOS, which podserve's serving stack removes as vLLM does); with vLLM importable, its
update_from_generation_config is run on a fresh SamplingParams and must give the same set.
"""

import json
import os
import shutil
import sys

from transformers import GenerationConfig

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "generation_configs")

# vLLM 0.32's available_params (vllm/config/model.py), in its order.
KEYS = ["repetition_penalty", "presence_penalty", "frequency_penalty", "temperature", "top_k", "top_p", "min_p",
        "max_new_tokens"]

CASES = {
    # A Llama-3-style file: sampling recommended, token ids alongside.
    "llama3": ({"bos_token_id": 1, "do_sample": True, "eos_token_id": [2, 3], "temperature": 0.6, "top_p": 0.9}, {}),
    # transformers 4's defaults written out: under transformers 5 they count too.
    "defaults_written": ({"temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}, {}),
    # Greedy with a length: the e2e test serves this folder.
    "greedy_short": ({"temperature": 0.0, "max_new_tokens": 5}, {}),
    "penalties": ({"presence_penalty": 0.5, "frequency_penalty": -0.25, "min_p": 0.05, "top_k": 7}, {}),
    # What a model's config.json gives (the tiny models' files): no sampling keys, no defaults.
    "no_sampling_keys": ({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}, {}),
    "null_values": ({"temperature": None, "top_p": 0.8}, {}),
    # The override merged over the file, its max_new_tokens replacing the file's.
    "override": ({"temperature": 0.7, "max_new_tokens": 100}, {"temperature": 0.5, "max_new_tokens": 3, "top_k": 4}),
}


def vllm_filter(config: dict) -> dict:
    if not any(p in config for p in KEYS):
        return {}
    diff = {p: config.get(p) for p in KEYS if config.get(p) is not None}
    if "max_new_tokens" in diff:
        diff["max_tokens"] = diff.pop("max_new_tokens")
    return diff


def vllm_own(folder: str, override: dict):
    """vLLM's get_diff_sampling_param itself, on a stand-in for its ModelConfig (None when vLLM is absent)."""
    try:
        from vllm.config.model import ModelConfig
        from vllm.transformers_utils.config import try_get_generation_config
    except ImportError:
        return None

    class Stub:
        generation_config = folder
        override_generation_config = override

        def try_get_generation_config(self):
            config = try_get_generation_config(folder, trust_remote_code=False)
            return {} if config is None else config.to_diff_dict()

    return ModelConfig.get_diff_sampling_param(Stub())


def eos_ids(config: dict) -> list:
    ids = config.get("eos_token_id")
    if ids is None:
        return []
    return sorted({ids} if isinstance(ids, int) else set(ids))


def vllm_stop_ids(config: dict):
    """vLLM's own update_from_generation_config, with no tokenizer EOS (None when vLLM is absent)."""
    try:
        from vllm import SamplingParams
    except ImportError:
        return None
    params = SamplingParams()
    params.update_from_generation_config(config, None)
    return sorted(params.stop_token_ids)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    expected = {}
    for name, (file, override) in CASES.items():
        folder = os.path.join(OUT, name)
        os.makedirs(folder)
        with open(os.path.join(folder, "generation_config.json"), "w") as f:
            json.dump(file, f, indent=2)
            f.write("\n")
        config = GenerationConfig.from_pretrained(folder).to_diff_dict()
        eos = eos_ids(config)
        own_eos = vllm_stop_ids(dict(config))
        if own_eos is not None and own_eos != eos:
            sys.exit(f"{name}: vLLM stops on {own_eos}, this script on {eos}")
        config.update(override)
        defaults = vllm_filter(config)
        own = vllm_own(folder, override)
        if own is not None and own != defaults:
            sys.exit(f"{name}: vLLM says {own}, this script {defaults}")
        expected[name] = {"override": override, "defaults": defaults, "log": str(defaults), "eos_token_ids": eos}
        print(name, defaults, "(checked against vLLM)" if own is not None else "")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

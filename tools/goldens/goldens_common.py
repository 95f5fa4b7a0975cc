"""Pieces that several goldens scripts share (imported by tiny_model.py, tiny_models.py, tiny_gguf.py, kquants.py).

Scripts run as `python tools/goldens/NAME.py`, so this folder is first on sys.path when they import it; the ones
that then drop the folder from sys.path (so no script name here shadows an installed package) import this first.
torch is imported only where it is used: tiny_model.py runs in the test venv, which has no torch.
"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable spelling of every byte (byte-level BPE vocabularies spell their tokens with it)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def top5_path(model, ids, steps):
    """A transformers model's greedy path of `steps` tokens after `ids` (each step runs the whole sequence, no
    cache) and its top-5 ids at every step: the reference of the quantized-format tests, where our top-1 must be
    within its top-5 at every step (vLLM's check_logprobs_close rule)."""
    import torch
    path, top5 = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids + path]), use_cache=False).logits[0, -1]
            top = torch.topk(logits, 5).indices.tolist()
            top5.append(top)
            path.append(top[0])
    return path, top5

"""Serving load against an OpenAI-compatible endpoint, measured as `vllm bench serve` measures it.

Each request is a streaming /v1/completions call with a fixed-length text prompt (random words, fresh per
request so no prefix cache helps), `max_tokens` fixed and end-of-sequence suppressed (`ignore_eos`, or a
-100 logit bias where the server lacks it), issued by `concurrency` concurrent clients until `num_prompts` are
done. Every streamed content chunk counts as one output token (both servers send one token per chunk). Per request: TTFT (request sent -> first content chunk), ITL (gaps between
successive content chunks), E2EL (request sent -> last chunk), TPOT = (E2EL - TTFT) / (output tokens - 1).
Aggregates: mean / median / p99 of each, output tokens/s = total output tokens / wall time, requests/s.
"""
import asyncio
import json
import random
import statistics
import time

import httpx


def _percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _summary(values_s):
    ms = [v * 1000.0 for v in values_s]
    if not ms:
        return {"mean": float("nan"), "median": float("nan"), "p99": float("nan")}
    return {"mean": statistics.fmean(ms), "median": statistics.median(ms), "p99": _percentile(ms, 99)}


async def _one(client, url, model, prompt, max_tokens, extra):
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True}
    if model:
        body["model"] = model
    body.update(extra)
    start = time.perf_counter()
    times = []
    async with client.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            if choices and choices[0].get("text"):
                times.append(time.perf_counter())
    if not times:
        raise RuntimeError("no tokens streamed")
    return start, times


async def _run(base_url, model, concurrency, num_prompts, input_len, output_len, vocab, extra, seed, timeout):
    rng = random.Random(seed)
    prompts = [" ".join(rng.choice(vocab) for _ in range(input_len)) for _ in range(num_prompts)]
    url = base_url + "/v1/completions"
    queue = list(range(num_prompts))
    results = []
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(3600.0), limits=limits) as client:
        async def worker():
            while queue:
                i = queue.pop()
                results.append(await _one(client, url, model, prompts[i], output_len, extra))

        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
        except asyncio.TimeoutError:
            # A server that serializes requests (llama-cpp-python's) may not get through the load in time.
            done = sum(len(t) for _, t in results)
            return {"concurrency": concurrency, "num_prompts": num_prompts, "completed": len(results),
                    "error": f"timed out: {len(results)} of {num_prompts} requests done in {timeout:.0f} s "
                             f"(<= {done / timeout:.1f} out tok/s)"}
        except (httpx.HTTPError, OSError) as e:
            # A server that drops connections under load is reported, not allowed to end the whole benchmark.
            return {"concurrency": concurrency, "num_prompts": num_prompts, "completed": len(results),
                    "error": f"failed: {type(e).__name__} after {len(results)} of {num_prompts} requests"}
        duration = time.perf_counter() - t0
    ttft, tpot, itl, e2el, out_tokens = [], [], [], [], 0
    for start, times in results:
        n = len(times)
        out_tokens += n
        ttft.append(times[0] - start)
        e2el.append(times[-1] - start)
        if n > 1:
            tpot.append((times[-1] - times[0]) / (n - 1))
        itl.extend(b - a for a, b in zip(times, times[1:]))
    return {"concurrency": concurrency, "num_prompts": num_prompts, "input_len": input_len, "output_len": output_len,
            "duration_s": duration, "request_throughput": num_prompts / duration,
            "output_throughput": out_tokens / duration, "ttft_ms": _summary(ttft), "tpot_ms": _summary(tpot),
            "itl_ms": _summary(itl), "e2el_ms": _summary(e2el)}


def run_load(base_url, model, concurrency, num_prompts, input_len, output_len, vocab, extra=None, seed=0, timeout=600):
    return asyncio.run(_run(base_url, model, concurrency, num_prompts, input_len, output_len, vocab, extra or {}, seed,
                            timeout))

"""The engines `make bench` runs side by side, each behind the same small interface:

- PodserveBench: `podserve bench` (engine-level, in process, no HTTP): pp/tg as llama-bench, offline throughput
  as `vllm bench throughput`, and the read bandwidth that bounds tg (`--mode bandwidth`);
- PodserveHttp: `podserve serve` driven over its OpenAI API (pp/tg including HTTP + JSON, cold start, peak RSS);
- LlamaBench: llama.cpp's own `llama-bench` (built by scripts/build-llama-cpp), a subprocess per repetition;
- LlamaCpp: llama.cpp through llama-cpp-python, in process (offline throughput: sequential generation);
- Transformers: Hugging Face transformers on the bf16 directory, in process.

pp = tokens/s of one pass over a prompt of random ids from position 0 (logits of the last token only);
tg = tokens/s of single-token passes at positions 0..n-1 with random ids (no sampling), as llama-bench measures.
Offline throughput = vLLM's: every prompt generates exactly output_len tokens at temperature 1.
"""
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def vllm_throughput(elapsed, num_requests, prompt_tokens, output_tokens):
    """`vllm bench throughput`'s JSON fields plus the output rate its printout shows."""
    total = prompt_tokens + output_tokens
    return {"elapsed_time": elapsed, "num_requests": num_requests, "total_num_tokens": total,
            "requests_per_second": num_requests / elapsed, "tokens_per_second": total / elapsed,
            "total_prompt_tokens": prompt_tokens, "total_output_tokens": output_tokens,
            "output_tokens_per_second": output_tokens / elapsed}


def isa_env(isa):
    """The environment that caps podserve's kernels at `isa` (None: the best path the CPU has)."""
    env = dict(os.environ)
    env.pop("PODSERVE_ISA", None)
    if isa is not None:
        env["PODSERVE_ISA"] = isa
    return env


class PodserveBench:
    def __init__(self, binary, model, threads, extra=(), isa=None):
        self.cmd = [binary, "bench", "--model", model, "-t", str(threads), *extra]
        self.env = isa_env(isa)

    def run(self, *args):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "bench.json"
            proc = subprocess.run([*self.cmd, *map(str, args), "--output-json", str(out)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.env)
            if proc.returncode != 0:
                raise RuntimeError(f"podserve bench failed: {proc.stderr[-2000:]}")
            return json.loads(out.read_text()), proc.stdout

    def pp_tg(self, n_prompt, n_gen, seed):
        """One repetition of each (after podserve bench's own warm-up), so the caller can interleave peers."""
        result, _ = self.run("--mode", "pp,tg", "-p", n_prompt, "-n", n_gen, "-r", 1, "--seed", seed)
        return result["tests"][0]["avg_ts"], result["tests"][1]["avg_ts"]

    def bandwidth(self, large=True):
        """`podserve bench --mode bandwidth`: read GB/s of a buffer of the model's weight bytes per token
        ("weights") and, if `large`, of one 4x the last-level cache ("large"), with this thread count."""
        result, _ = self.run("--mode", "bandwidth", *(() if large else ("--large-mib", 0)))
        return result["bandwidth"]

    def throughput(self, num_prompts, input_len, output_len, seed=0):
        result, stdout = self.run("--mode", "throughput", "--num-prompts", num_prompts, "--input-len", input_len,
                                  "--output-len", output_len, "--seed", seed)
        return result["throughput"], stdout


class PodserveHttp:
    def __init__(self, binary, model, threads):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PODSERVE_THREADS=str(threads))
        start = time.perf_counter()
        self.proc = subprocess.Popen([binary, "serve", "--model", model, "--port", str(self.port), "--max-model-len",
                                      "2048", "--disable-log-stats"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("podserve exited: " + self.proc.stderr.read()[-2000:])
            try:
                requests.post(self.base + "/v1/completions", json={"prompt": "Hi", "max_tokens": 1},
                              timeout=60).raise_for_status()
                break
            except requests.ConnectionError:
                time.sleep(0.01)
        self.cold_start_s = time.perf_counter() - start

    def pp(self, prompt_ids):
        t0 = time.perf_counter()
        r = requests.post(self.base + "/v1/completions",
                          json={"prompt": prompt_ids, "max_tokens": 1, "temperature": 0}).json()
        return r["usage"]["prompt_tokens"] / (time.perf_counter() - t0)

    def tg(self, first_token, n):
        body = {"prompt": [first_token], "max_tokens": n + 1, "temperature": 0, "ignore_eos": True, "stream": True}
        times = []
        with requests.post(self.base + "/v1/completions", json=body, stream=True) as resp:
            for line in resp.iter_lines():
                if line.startswith(b"data: ") and line != b"data: [DONE]" and json.loads(line[6:]).get("choices"):
                    times.append(time.perf_counter())
        return (len(times) - 1) / (times[-1] - times[0])  # the first chunk ends the prefill of the 1-token prompt

    def close(self):
        rss = peak_rss_mib(self.proc.pid)
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return rss


class LlamaBench:
    """llama.cpp's `llama-bench`: pp N (one pass over N random prompt tokens) and tg N (N single-token passes
    from position 0), each after llama-bench's own warm-up run; its default settings otherwise (batch 2048,
    micro-batch 512, weight repacking on, no flash attention), as a user runs it."""

    def __init__(self, llama_bin, model, threads):
        self.cmd = [str(pathlib.Path(llama_bin) / "llama-bench"), "-m", model, "-t", str(threads), "-o", "json"]

    def pp_tg(self, n_prompt, n_gen, reps=1):
        """(pp t/s, tg t/s), means over `reps` (either is None when its N is 0)."""
        proc = subprocess.run([*self.cmd, "-p", str(n_prompt), "-n", str(n_gen), "-r", str(reps)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"llama-bench failed: {proc.stderr[-2000:]}")
        pp = tg = None
        for test in json.loads(proc.stdout):
            if test["n_prompt"] > 0 and test["n_gen"] == 0:
                pp = test["avg_ts"]
            elif test["n_gen"] > 0 and test["n_prompt"] == 0:
                tg = test["avg_ts"]
        return pp, tg


class LlamaCpp:
    def __init__(self, model, threads):
        from llama_cpp import Llama
        self.llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                         n_ubatch=512, verbose=False)
        self.vocab_size = self.llm.n_vocab()

    def pp(self, prompt_ids):
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.eval(prompt_ids)
        return len(prompt_ids) / (time.perf_counter() - t0)

    def tg(self, token_ids):
        self.llm.reset()
        t0 = time.perf_counter()
        for t in token_ids:
            self.llm.eval([t])
        return len(token_ids) / (time.perf_counter() - t0)

    def throughput(self, prompts, output_len, seed=0):
        """Sequential: llama-cpp-python has no batching across requests. Temperature-1 sampling from the logits
        with numpy (a plain softmax draw, as vLLM's bench asks for; llama_cpp's sampler object is avoided: it
        crashed once, SIGILL, in a long run mixing the peers in one process)."""
        import numpy as np
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        out = 0
        for p in prompts:
            self.llm.reset()
            self.llm.eval(p)
            for _ in range(output_len):
                logits = self.llm.scores[self.llm.n_tokens - 1]
                probs = np.exp(logits - logits.max())
                tok = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum()))
                self.llm.eval([min(tok, len(probs) - 1)])
                out += 1
        return vllm_throughput(time.perf_counter() - t0, len(prompts), sum(map(len, prompts)), out)


class Transformers:
    def __init__(self, model_dir, threads):
        import torch
        from transformers import AutoModelForCausalLM
        torch.set_num_threads(threads)
        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
        self.vocab_size = self.model.config.vocab_size

    def pp(self, prompt_ids):
        with self.torch.inference_mode():
            t0 = time.perf_counter()
            self.model(input_ids=self.torch.tensor([prompt_ids]), use_cache=True, logits_to_keep=1)
            return len(prompt_ids) / (time.perf_counter() - t0)

    def tg(self, token_ids):
        from transformers import DynamicCache
        cache = DynamicCache()
        with self.torch.inference_mode():
            t0 = time.perf_counter()
            for t in token_ids:
                cache = self.model(input_ids=self.torch.tensor([[t]]), past_key_values=cache, use_cache=True).past_key_values
            return len(token_ids) / (time.perf_counter() - t0)

    def throughput(self, prompts, output_len, batch_size):
        """model.generate over fixed batches of equal-length prompts (no padding needed), as HF batches."""
        torch = self.torch
        t0 = time.perf_counter()
        out = 0
        with torch.inference_mode():
            for i in range(0, len(prompts), batch_size):
                ids = torch.tensor(prompts[i:i + batch_size])
                gen = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                          temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=output_len,
                                          min_new_tokens=output_len, pad_token_id=0)
                out += (gen.shape[1] - ids.shape[1]) * ids.shape[0]
        return vllm_throughput(time.perf_counter() - t0, len(prompts), sum(map(len, prompts)), out)


class ServerProcess:
    """An OpenAI-compatible server in a subprocess; ready once GET `ready_path` answers 200 (llama-server answers
    /v1/models while it still loads the model and 503s completions then: it waits on /health). Restartable, so a
    server left busy by a timed-out load can be reset before the next measurement."""

    def __init__(self, name, cmd, port, env=None, ready_path="/v1/models"):
        self.name, self.cmd, self.env, self.ready_path = name, cmd, env, ready_path
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self, timeout=600):
        # stderr to a file, not a pipe: a chatty server would block once an undrained pipe fills up.
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log.name, errors="replace") as f:
                    raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}: " + f.read()[-2000:])
            try:
                if requests.get(self.base + self.ready_path, timeout=5).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout} s")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still busy with requests a timed-out load left queued
            self.proc.kill()
            self.proc.wait()
        self.proc = None

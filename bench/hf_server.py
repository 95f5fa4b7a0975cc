#!/usr/bin/env python3
"""The serving baseline of `make bench`: a plain Hugging Face transformers generate loop behind a small
OpenAI-compatible endpoint, one request at a time (what a naive Python server does; no batching).

Routes: GET /v1/models, POST /v1/completions with `prompt` (a string or a list of token ids), `max_tokens`,
`temperature` (0 = greedy), `stream` and `ignore_eos` (min_new_tokens = max_tokens, so EOS cannot end it early).
A stream sends one SSE chunk per generated token (a BaseStreamer receives each token from model.generate), then
`data: [DONE]`; requests wait on one lock, so concurrent clients are served in turn.

Usage: hf_server.py --model HF_DIR [--port 8000] [--threads N]
"""
import argparse
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation.streamers import BaseStreamer


class TokenQueue(BaseStreamer):
    """Hands each token model.generate produces to the HTTP thread (the first put() is the prompt)."""

    def __init__(self):
        self.tokens = queue.Queue()
        self.prompt_seen = False

    def put(self, value):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for t in value.reshape(-1).tolist():
            self.tokens.put(t)

    def end(self):
        self.tokens.put(None)


class Backend:
    def __init__(self, model_dir):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
        self.name = model_dir
        self.lock = threading.Lock()

    def generate(self, body):
        """Yields (token id, text) per generated token, holding the lock for the whole request."""
        prompt = body.get("prompt", "")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        ids = prompt if isinstance(prompt, list) else self.tokenizer(prompt)["input_ids"]
        max_tokens = int(body.get("max_tokens") or 16)
        temperature = float(body.get("temperature", 1.0))
        kwargs = {"max_new_tokens": max_tokens, "do_sample": temperature > 0, "pad_token_id":
                  self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0}
        if temperature > 0:
            kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
        if body.get("ignore_eos"):
            kwargs["min_new_tokens"] = max_tokens
        streamer = TokenQueue()
        with self.lock, torch.inference_mode():
            worker = threading.Thread(target=self.model.generate, kwargs=dict(
                input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                streamer=streamer, **kwargs))
            worker.start()
            while (tok := streamer.tokens.get()) is not None:
                yield tok, self.tokenizer.decode([tok])
            worker.join()


def make_handler(backend):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": backend.name, "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": "not found", "type": "NotFoundError"}})

        def do_POST(self):
            if self.path != "/v1/completions":
                self.send_json(404, {"error": {"message": "not found", "type": "NotFoundError"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except ValueError:
                self.send_json(400, {"error": {"message": "invalid JSON", "type": "BadRequestError"}})
                return
            created, rid = int(time.time()), f"cmpl-{id(body):x}"

            def chunk(text, finish=None):
                return {"id": rid, "object": "text_completion", "created": created, "model": backend.name,
                        "choices": [{"index": 0, "text": text, "finish_reason": finish}]}

            if not body.get("stream"):
                toks = list(backend.generate(body))
                text = "".join(t for _, t in toks)
                self.send_json(200, {**chunk(text, "length"), "usage": {"completion_tokens": len(toks)}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for _, text in backend.generate(body):
                self.wfile.write(f"data: {json.dumps(chunk(text))}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(f"data: {json.dumps(chunk('', 'length'))}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    backend = Backend(args.model)
    # The default listen backlog (5) drops connections when a load opens 32-64 at once.
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer((args.host, args.port), make_handler(backend)).serve_forever()


if __name__ == "__main__":
    main()

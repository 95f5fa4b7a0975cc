"""An unmodified runpod-python SDK worker: a tiny async-generator handler, started by `podserve endpoint` with the
env vars RunPod sets (RUNPOD_WEBHOOK_GET_JOB, ..._POST_OUTPUT, ..._POST_STREAM, ..._PING, RUNPOD_AI_API_KEY,
RUNPOD_POD_ID). What it does is chosen by the job input:

  {"echo": X}             yields {"echo": X, "worker": <worker id>}
  {"count": N}            yields {"i": 0} ... {"i": N-1} (stream items)
  {"sleep": S}            sleeps S seconds (in small steps, so a job-stop cancels it), then yields {"slept": S}
  {"fail": "message"}     raises ValueError(message)

$SDK_CONCURRENCY (default 1) is the worker's concurrency (the SDK's concurrency_modifier): above 1 it takes
jobs with job-take-batch. Cancelled jobs are appended to $SDK_CANCEL_LOG, so tests can see that the stop signal reached the handler.
Jobs whose handler has started are appended to $SDK_START_LOG.
"""

import asyncio
import os

import runpod


async def handler(job):
    inp = job["input"]
    started = os.environ.get("SDK_START_LOG")
    if started:
        with open(started, "a", encoding="utf-8") as f:
            f.write(job["id"] + "\n")
    try:
        if "fail" in inp:
            raise ValueError(inp["fail"])
        if "sleep" in inp:
            steps = int(float(inp["sleep"]) / 0.05)
            for _ in range(steps):
                await asyncio.sleep(0.05)
            yield {"slept": inp["sleep"]}
        elif "count" in inp:
            for i in range(int(inp["count"])):
                yield {"i": i}
                await asyncio.sleep(0.02)
        else:
            yield {"echo": inp.get("echo"), "worker": os.environ.get("RUNPOD_POD_ID")}
    except asyncio.CancelledError:
        log = os.environ.get("SDK_CANCEL_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(job["id"] + "\n")
        raise


if __name__ == "__main__":
    concurrency = int(os.environ.get("SDK_CONCURRENCY", "1"))
    runpod.serverless.start({"handler": handler, "return_aggregate_stream": True,
                             "concurrency_modifier": lambda current: concurrency})

"""`podserve worker` against the fake job server: every request it makes, checked against the protocol of
worker-vllm.md §4 (runpod-python 1.12.0's worker): URLs and query parameters, headers, bodies, the order of
stream and done posts, pings with the held job ids, batch take by free slots, job-stop, retries and SIGTERM."""

API_KEY = "rp-secret-key"
HF_SECRET = "hf_supersecret_token_value"

SHORT = {"prompt": "The capital of France is", "sampling_params": {"max_tokens": 8, "temperature": 0}}


def long_job(tokens=1500):
    return {"prompt": "Count forever: 1, 2, 3,", "stream": True,
            "sampling_params": {"max_tokens": tokens, "temperature": 0, "ignore_eos": True}}


def test_requests_of_one_job(job_server, start_worker):
    job_server.add_job("job-1", SHORT)
    worker = start_worker(job_server.worker_env(api_key=API_KEY) | {"HF_TOKEN": HF_SECRET})
    done = job_server.wait_done("job-1")

    # Job take: the template's $ID is the worker id, its query kept, job_in_progress appended; raw API key.
    takes = job_server.of_kind("take") + job_server.of_kind("take-batch")
    first = min(takes, key=lambda r: r.seq)
    assert first.method == "GET"
    assert first.worker == "worker-1"
    assert first.q("gpu") == "test-gpu"
    assert first.q("job_in_progress") == "0"
    for r in job_server.requests:
        assert r.headers.get("authorization") == API_KEY, (r.kind, r.headers)  # no "Bearer" on this side

    # The classic worker is a generator handler: each item goes to the stream URL (isStream=false) before the
    # job-done post (isStream=true) whose output is the list of all items.
    streams = job_server.of_kind("stream", "job-1")
    assert len(streams) == 1
    s = streams[0]
    assert s.method == "POST" and s.worker == "worker-1" and s.path.endswith("/job-stream/worker-1/job-1")
    assert s.q("isStream") == "false" and s.q("gpu") == "test-gpu"
    assert s.headers["x-request-id"] == "job-1"
    assert s.headers["content-type"] == "application/x-www-form-urlencoded"
    item = s.json()["output"]
    assert done.method == "POST" and done.path.endswith("/job-done/worker-1/job-1")
    assert done.q("isStream") == "true"
    assert done.headers["x-request-id"] == "job-1"
    assert done.seq > s.seq
    assert done.json() == {"output": [item]}
    assert list(item) == ["choices", "usage"]
    assert len(item["choices"]) == 1 and len(item["choices"][0]["tokens"]) == 1
    assert item["usage"]["output"] == 8

    worker.stop()
    assert worker.process.returncode == 0
    log = worker.log_text()
    assert HF_SECRET not in log and API_KEY not in log


def test_pings_carry_held_jobs(job_server, start_worker):
    job_server.add_job("job-long", long_job(60))
    # 60 tokens can take less than the 200 ms between pings on a fast machine: the job's first stream post is
    # answered only once a ping has named the job, so the job is surely held across a ping.
    job_server.hold_streams_until_pinged.add("job-long")
    start_worker(job_server.worker_env())
    job_server.wait_done("job-long")
    pings = job_server.of_kind("ping")
    assert pings, "no heartbeat"
    for p in pings:
        assert p.method == "GET" and p.worker == "worker-1"
        assert p.q("runpod_version") == "1.12.0"
        assert p.q("gpu") == "test-gpu"
    with_job = [p for p in pings if p.q("job_id")]
    assert with_job, "no ping listed the running job"
    assert all(p.q("job_id") == "job-long" for p in with_job)
    # Once the job is done, pings list no job again.
    job_server.wait_for(lambda: [p for p in job_server.of_kind("ping") if p.seq > job_server.wait_done("job-long").seq
                                 and p.q("job_id") is None], what="an idle ping after the job")


def test_batch_take_by_free_slots(job_server, start_worker):
    for i in range(3):
        job_server.add_job(f"b{i}", long_job(40))
    start_worker(job_server.worker_env() | {"MAX_CONCURRENCY": "4"})
    for i in range(3):
        job_server.wait_done(f"b{i}")
    batch = job_server.of_kind("take-batch")
    assert batch, "no batch take with 4 free slots"
    first = batch[0]
    assert first.q("batch_size") == "4" and first.q("job_in_progress") == "0"
    # While the three jobs run, a take asks for the one free slot left, with job_in_progress=1.
    job_server.add_job("b3", SHORT)
    job_server.wait_done("b3")
    later = [r for r in job_server.of_kind("take") + job_server.of_kind("take-batch") if r.q("job_in_progress") == "1"]
    for r in later:
        assert int(r.q("batch_size") or 1) <= 4
    assert not job_server.of_kind("unknown")


def test_concurrency_one_uses_single_take(job_server, start_worker):
    job_server.add_job("c1", SHORT)
    job_server.add_job("c2", SHORT)
    start_worker(job_server.worker_env() | {"MAX_CONCURRENCY": "1"})
    d1 = job_server.wait_done("c1")
    d2 = job_server.wait_done("c2")
    assert not job_server.of_kind("take-batch")
    # One slot: the second job is taken only after the first one's result is posted.
    take2 = [r for r in job_server.of_kind("take") if r.answered == 200][1]
    assert take2.seq > d1.seq
    assert d2.seq > take2.seq


def test_job_stop_aborts_and_worker_continues(job_server, start_worker):
    job_server.add_job("victim", long_job(1900))
    start_worker(job_server.worker_env())
    job_server.wait_for(lambda: job_server.of_kind("stream", "victim"), what="a stream post of the victim")
    job_server.stop_job("victim")
    stop = job_server.wait_for(lambda: [r for r in job_server.of_kind("stop") if r.answered == 200],
                               what="the job-stop answer")[0]
    assert stop.method == "GET" and stop.path.endswith("/job-stop/worker-1") and stop.q("gpu") == "test-gpu"
    # The job is no longer held (its engine request ended): pings stop listing it...
    job_server.wait_for(lambda: [p for p in job_server.of_kind("ping") if p.seq > stop.seq and p.q("job_id") is None],
                        what="a ping without the stopped job")
    # ...and the next job runs while nothing is ever posted as the stopped job's result.
    job_server.add_job("after", SHORT)
    job_server.wait_done("after")
    assert not job_server.of_kind("done", "victim")
    # The engine's own counters (GET /metrics through the generic `route` input): one request aborted,
    # none running.
    job_server.add_job("metrics", {"route": "/metrics"})
    metrics = job_server.wait_done("metrics").json()["output"][0]
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    name = 'model_name="podserve-test-model"'
    assert float(values["vllm:request_success_total{" + name + ',finished_reason="abort"}']) == 1
    assert float(values["vllm:num_requests_running{" + name + "}"]) == 0
    # Generation stopped: far fewer stream items than 1,900 tokens make (1, 3, 9, 27, then 50 each: ~43).
    assert len(job_server.of_kind("stream", "victim")) < 40


def test_stop_that_overtakes_its_job_is_kept(job_server, start_worker):
    """The job-stop answer can reach the worker before the take answer that brings the job: the worker keeps
    the stop and applies it when the job arrives (nothing is posted for it), then goes on serving."""
    w = start_worker(job_server.worker_env())
    job_server.wait_for(lambda: job_server.of_kind("stop"), what="the job-stop poll")
    job_server.stop_job("early")
    job_server.wait_for(lambda: [r for r in job_server.of_kind("stop") if r.answered == 200],
                        what="the job-stop answer")
    job_server.add_job("early", long_job(1900))
    job_server.wait_for(lambda: "job early: stopped (nothing posted)" in w.log_text(), what="the early job stopped")
    job_server.add_job("after", SHORT)
    assert job_server.wait_done("after").json()["output"][0]["usage"]["output"] == 8
    assert not job_server.of_kind("stream", "early")
    assert not job_server.of_kind("done", "early")


def test_retries_5xx_and_backs_off_429(job_server, start_worker):
    job_server.inject_status("take", 429)
    job_server.inject_status("take-batch", 429)
    job_server.inject_status("done", 503)
    job_server.inject_status("stream", 500)
    job_server.add_job("r1", SHORT)
    start_worker(job_server.worker_env())
    done = job_server.wait_done("r1")
    dones = job_server.of_kind("done", "r1")
    assert [d.answered for d in dones] == [503, 200]  # retried after the 5xx, same body
    assert dones[0].body == dones[1].body
    streams = job_server.of_kind("stream", "r1")
    assert [s.answered for s in streams] == [500, 200]
    assert done.json()["output"] == [streams[1].json()["output"]]
    # The 429 answer was followed by more takes that got the job.
    takes = job_server.of_kind("take") + job_server.of_kind("take-batch")
    assert takes[0].answered == 429
    assert any(t.answered == 200 for t in takes)


def test_take_errors_do_not_stop_the_worker(job_server, start_worker):
    job_server.inject_status("take", 500, 502)
    job_server.inject_status("take-batch", 500, 502)
    job_server.add_job("e1", SHORT)
    start_worker(job_server.worker_env())
    job_server.wait_done("e1")


def test_no_request_before_model_loaded(job_server, start_worker, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00truncated")
    w = start_worker(job_server.worker_env(), args=["--model", str(bad)])
    assert w.process.wait(timeout=60) == 1
    assert job_server.requests == []


def test_sigterm_finishes_held_jobs(job_server, start_worker):
    job_server.add_job("held", long_job(80))
    w = start_worker(job_server.worker_env())
    job_server.wait_for(lambda: job_server.of_kind("stream", "held"), what="the held job streaming")
    w.process.send_signal(15)
    job_server.add_job("not-taken", SHORT)
    assert w.process.wait(timeout=120) == 0
    done = job_server.wait_done("held", timeout=5)
    tokens = [t for item in done.json()["output"] for t in item["choices"][0]["tokens"]]
    assert done.json()["output"][-1]["usage"]["output"] == 80  # finished, not cut short
    assert len(tokens) > 0
    # No take starts after the signal; one already waiting for its answer may still bring the job, which is
    # then held and finished like any other. Either way nothing is lost.
    if list(job_server.jobs) != [{"id": "not-taken", "input": SHORT}]:
        assert job_server.wait_done("not-taken", timeout=5).json()["output"][0]["usage"]["output"] == 8

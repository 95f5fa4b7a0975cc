"""RunPod's client API of `podserve endpoint`, driven by the official `runpod` client (runpod.Endpoint) with an
unmodified runpod-python SDK worker started by the endpoint doing the work."""

import http.server
import json
import os
import re
import tempfile
import threading
import time

import pytest
import requests

from conftest import ENDPOINT_ID, sdk_worker_command, start_endpoint

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def _temp_log(prefix):
    """A fresh empty file for the module's tests, removed after them."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    yield path
    os.unlink(path)


@pytest.fixture(scope="module")
def cancel_log():
    yield from _temp_log("sdk-cancel-")


@pytest.fixture(scope="module")
def start_log():
    yield from _temp_log("sdk-start-")


@pytest.fixture(scope="module")
def ep(store, cancel_log, start_log):
    e = start_endpoint(["--workers-min", "1", "--workers-max", "1", "--worker-command", sdk_worker_command()],
                       db=store(), env={"SDK_CANCEL_LOG": cancel_log, "SDK_START_LOG": start_log})
    yield e
    e.stop()
    e.cleanup()


@pytest.fixture(scope="module")
def queue_only(store):
    """No workers: jobs stay queued (purge, metrics, the raw worker protocol)."""
    e = start_endpoint(["--workers-max", "0", "--lease-timeout-ms", "1500"], db=store())
    yield e
    e.stop()
    e.cleanup()


def test_run_status_output(ep):
    client = ep.client()
    job = client.run({"echo": "hello"})
    out = job.output(timeout=60)
    assert job.status() == "COMPLETED"
    assert out == [{"echo": "hello", "worker": out[0]["worker"]}]  # the generator's items, aggregated
    raw = ep.status(job.job_id)
    assert raw["status"] == "COMPLETED" and raw["id"] == job.job_id
    assert raw["workerId"] == out[0]["worker"]  # the worker that ran it, as RUNPOD_POD_ID told the SDK
    assert isinstance(raw["delayTime"], int) and raw["delayTime"] >= 0
    assert isinstance(raw["executionTime"], int) and raw["executionTime"] >= 0


def test_run_sync(ep):
    out = ep.client().run_sync({"echo": [1, 2, 3]}, timeout=60)
    assert out[0]["echo"] == [1, 2, 3]
    r = requests.post(f"{ep.base}/runsync?wait=30000", json={"input": {"echo": "x"}}, headers=ep.headers(),
                      timeout=60).json()
    assert r["status"] == "COMPLETED" and r["id"].startswith("sync-")
    assert r["output"][0]["echo"] == "x"


def test_stream_yields_every_item_in_order(ep):
    job = ep.client().run({"count": 12})
    items = list(job.stream())
    assert items == [{"i": i} for i in range(12)]
    assert ep.status(job.job_id)["output"] == items


def test_handler_error_ends_failed_with_its_message(ep):
    job = ep.client().run({"fail": "the prompt is missing"})
    ep.wait_until(lambda: ep.status(job.job_id)["status"] in FINAL, 60, "the failing job to end")
    st = ep.status(job.job_id)
    assert st["status"] == "FAILED"
    assert "the prompt is missing" in st["error"]
    # The worker keeps serving.
    assert ep.client().run_sync({"echo": 1}, timeout=60)[0]["echo"] == 1


def test_cancel_a_running_job_stops_the_handler(ep, cancel_log, start_log):
    client = ep.client()
    job = client.run({"sleep": 30})
    # Running means its handler runs. (IN_PROGRESS alone is not enough: the SDK may not have started the job's
    # task yet, and runpod-python 1.12.0 loses a job whose task is cancelled before its first step: its cleanup
    # never runs, so the worker holds that job, and its slot, for good.)
    ep.wait_until(lambda: job.job_id in open(start_log).read(), 60, "the handler to start")
    assert ep.status(job.job_id)["status"] == "IN_PROGRESS"
    assert job.cancel()["status"] == "CANCELLED"
    ep.wait_until(lambda: job.job_id in open(cancel_log).read(), 15, "the SDK worker to get the stop signal")
    assert ep.status(job.job_id)["status"] == "CANCELLED"
    # Its slot is free again.
    assert client.run_sync({"echo": "after"}, timeout=60)[0]["echo"] == "after"
    assert ep.status(job.job_id)["status"] == "CANCELLED"


def test_execution_timeout_ends_timed_out(ep, cancel_log):
    job = ep.client().run({"input": {"sleep": 30}, "policy": {"executionTimeout": 1500}})
    ep.wait_until(lambda: ep.status(job.job_id)["status"] in FINAL, 30, "the job to time out")
    assert ep.status(job.job_id)["status"] == "TIMED_OUT"
    ep.wait_until(lambda: job.job_id in open(cancel_log).read(), 15, "the worker to be told to stop")


def test_retry_runs_a_failed_job_again(ep):
    job = ep.client().run({"fail": "once"})
    ep.wait_until(lambda: ep.status(job.job_id)["status"] == "FAILED", 60, "the job to fail")
    before = ep.health()["jobs"]["retried"]
    r = requests.post(f"{ep.base}/retry/{job.job_id}", headers=ep.headers(), timeout=5).json()
    assert r == {"id": job.job_id, "status": "IN_QUEUE"}
    ep.wait_until(lambda: ep.status(job.job_id)["status"] == "FAILED", 60, "the retried job to fail again")
    assert ep.health()["jobs"]["retried"] == before + 1
    ok = ep.client().run({"echo": 1})
    ok.output(timeout=60)
    bad = requests.post(f"{ep.base}/retry/{ok.job_id}", headers=ep.headers(), timeout=5)
    assert bad.status_code == 400 and "COMPLETED" in bad.json()["error"]


def test_webhook_gets_the_result(ep):
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        job = ep.client().run({"input": {"echo": "hooked"}, "webhook": url})
        ep.wait_until(lambda: received, 60, "the webhook")
        assert received[0]["id"] == job.job_id
        assert received[0]["status"] == "COMPLETED"
        assert received[0]["output"][0]["echo"] == "hooked"
        time.sleep(0.5)
        assert len(received) == 1
    finally:
        server.shutdown()


def test_health_reports_jobs_and_workers(ep):
    h = ep.client().health()
    assert set(h) == {"jobs", "workers"}
    assert {"completed", "failed", "inProgress", "inQueue", "retried"} <= set(h["jobs"])
    assert h["jobs"]["completed"] >= 1
    assert h["workers"]["idle"] + h["workers"]["running"] == 1


def test_purge_queue_and_metrics(queue_only):
    client = queue_only.client()
    jobs = [client.run({"echo": i}) for i in range(3)]
    assert all(j.status() == "IN_QUEUE" for j in jobs)
    assert client.health()["jobs"]["inQueue"] == 3
    metrics = requests.get(f"{queue_only.url}/metrics", timeout=5).text
    assert f'podserve_endpoint_jobs_in_queue{{endpoint="{ENDPOINT_ID}"}} 3' in metrics
    assert f'podserve_endpoint_jobs_in_progress{{endpoint="{ENDPOINT_ID}"}} 0' in metrics
    assert "podserve_endpoint_workers{" in metrics
    assert client.purge_queue() == {"removed": 3, "status": "completed"}
    assert client.health()["jobs"]["inQueue"] == 0
    gone = requests.get(f"{queue_only.base}/status/{jobs[0].job_id}", headers=queue_only.headers(), timeout=5)
    assert gone.status_code == 404


def test_cancel_a_queued_job(queue_only):
    job = queue_only.client().run({"echo": 1})
    assert job.cancel() == {"id": job.job_id, "status": "CANCELLED"}
    assert queue_only.status(job.job_id)["status"] == "CANCELLED"
    assert queue_only.health()["jobs"]["inQueue"] == 0


def test_bad_requests_get_clear_errors(queue_only):
    base, h = queue_only.base, queue_only.headers()
    cases = [
        (requests.post(f"{base}/run", data="{not json", headers=h), 400, "JSON"),
        (requests.post(f"{base}/run", json={"webhook": "http://x"}, headers=h), 400, "input"),
        (requests.post(f"{base}/run", json={"input": {}, "policy": {"executionTimeout": "soon"}}, headers=h), 400,
         "executionTimeout"),
        (requests.post(f"{base}/run", json={"input": {}, "webhook": 5}, headers=h), 400, "webhook"),
        (requests.get(f"{base}/status/no-such-job", headers=h), 404, "no-such-job"),
        (requests.post(f"{base}/cancel/no-such-job", headers=h), 404, "no-such-job"),
        (requests.get(f"{queue_only.url}/v2/other-endpoint/health", headers=h), 404, "endpoint"),
        (requests.get(f"{base}/run", headers=h), 405, "POST"),
        (requests.post(f"{base}/no-such-op", headers=h), 404, "no-such-op"),
    ]
    for response, status, word in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert word in response.json()["error"], response.text


def test_api_key_is_required_when_set(endpoint_factory):
    e = endpoint_factory(["--workers-max", "0"], api_key="s3cret")
    with pytest.raises(RuntimeError):
        e.client(api_key="wrong").run({"echo": 1})
    job = e.client(api_key="s3cret").run({"echo": 1})
    assert job.status() == "IN_QUEUE"
    assert requests.get(f"{e.base}/health", timeout=5).status_code == 401


def test_worker_protocol_leases_and_stale_results(queue_only):
    """A hand-written worker speaking §4: take, ping, done; a result from an expired lease is refused."""
    base = queue_only.base
    client = queue_only.client()
    a = client.run({"echo": "a"})
    b = client.run({"echo": "b"})
    took = requests.get(f"{base}/job-take/w1?gpu=cpu&job_in_progress=0", timeout=10)
    assert took.status_code == 200 and took.headers["content-type"].startswith("application/json")
    assert took.json() == {"id": a.job_id, "input": {"echo": "a"}}
    batch = requests.get(f"{base}/job-take-batch/w2?gpu=cpu&batch_size=5&job_in_progress=0", timeout=10)
    assert batch.json() == [{"id": b.job_id, "input": {"echo": "b"}}]
    assert requests.get(f"{base}/job-take/w3?gpu=cpu&job_in_progress=0", timeout=10).status_code == 204
    # w1 keeps its lease by pinging; w2 goes silent and loses b, which is queued again once its lease (1.5 s, as
    # long as a's would last without the pings) has expired and the endpoint's upkeep has noticed.
    taken = time.monotonic()
    while queue_only.status(b.job_id)["status"] != "IN_QUEUE" or time.monotonic() - taken < 2:
        assert time.monotonic() - taken < 30, "w2's silent lease never expired"
        requests.get(f"{base}/ping/w1?gpu=cpu", params={"job_id": a.job_id, "runpod_version": "1.12.0"}, timeout=5)
        time.sleep(0.2)
    assert queue_only.status(a.job_id)["status"] == "IN_PROGRESS"
    late = requests.post(f"{base}/job-done/w2/{b.job_id}?gpu=cpu&isStream=false", data=json.dumps({"output": 1}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert late.status_code == 409
    done = requests.post(f"{base}/job-done/w1/{a.job_id}?gpu=cpu&isStream=false",
                         data=json.dumps({"output": {"ok": True}}), timeout=5)
    assert done.status_code == 200
    again = requests.post(f"{base}/job-done/w1/{a.job_id}?gpu=cpu&isStream=false", data=json.dumps({"output": 2}),
                          timeout=5)
    assert again.status_code == 409
    assert queue_only.status(a.job_id)["output"] == {"ok": True}
    client.purge_queue()


def test_stop_signal_is_repeated_while_pings_list_the_job(queue_only):
    """runpod-python drops a stop signal that arrives before it has started the job's task (JobScaler.stop_job finds
    no task yet): while the worker's pings still list the cancelled job, each ping queues the signal again."""
    base = queue_only.base
    job = queue_only.client().run({"echo": "stop me"})
    took = requests.get(f"{base}/job-take/w9?gpu=cpu&job_in_progress=0", timeout=10)
    assert took.json()["id"] == job.job_id
    assert job.cancel()["status"] == "CANCELLED"

    def stop_poll():
        r = requests.get(f"{base}/job-stop/w9?gpu=cpu", timeout=10)
        return r.json()["jobsToStop"] if r.status_code == 200 else r.status_code

    def ping(*job_ids):
        params = {"runpod_version": "1.12.0"} | ({"job_id": ",".join(job_ids)} if job_ids else {})
        assert requests.get(f"{base}/ping/w9?gpu=cpu", params=params, timeout=5).status_code == 200

    assert stop_poll() == [job.job_id]
    assert stop_poll() == 204  # delivered once...
    ping(job.job_id)
    assert stop_poll() == [job.job_id]  # ...and again while the worker says it still holds the job
    ping()
    assert stop_poll() == 204
    late = requests.post(f"{base}/job-done/w9/{job.job_id}?gpu=cpu&isStream=false", data=json.dumps({"output": 1}),
                         timeout=5)
    assert late.status_code == 409
    assert queue_only.status(job.job_id)["status"] == "CANCELLED"


def test_replicas_on_one_postgres_share_the_queue_and_its_metrics(postgres):
    """Two queue-only replicas (--workers-max 0: the platform scales the workers) on one PostgreSQL database: a job
    submitted to one is taken and finished through the other, read and cancelled through either, and both report
    the same queue figures in /metrics (the autoscaler's input), since they count the database."""
    db = postgres.new_database()
    a = start_endpoint(["--workers-max", "0"], db=db)
    b = start_endpoint(["--workers-max", "0"], db=db)
    try:
        check_replicas(a, b)
    finally:
        for ep in (a, b):
            ep.stop()
            ep.cleanup()


def check_replicas(a, b):
    jobs = [a.client().run({"echo": i}) for i in range(5)]
    took = requests.get(f"{b.base}/job-take-batch/w1?gpu=cpu&batch_size=2&job_in_progress=0", timeout=10).json()
    assert [t["id"] for t in took] == [j.job_id for j in jobs[:2]]  # FIFO across replicas

    def gauges(ep):
        text = requests.get(f"{ep.url}/metrics", timeout=5).text
        return {name: float(v) for name, v in re.findall(r'^(podserve_endpoint_jobs_in_\w+)\{[^}]*\} (\S+)$', text,
                                                          re.M)}

    assert gauges(a) == gauges(b) == {"podserve_endpoint_jobs_in_queue": 3.0,
                                      "podserve_endpoint_jobs_in_progress": 2.0}
    done = requests.post(f"{a.base}/job-done/w1/{jobs[0].job_id}?gpu=cpu&isStream=false",
                         data=json.dumps({"output": {"ok": 1}}), timeout=5)
    assert done.status_code == 200
    assert b.status(jobs[0].job_id)["output"] == {"ok": 1}
    assert requests.post(f"{b.base}/cancel/{jobs[1].job_id}", headers=b.headers(), timeout=5).json()["status"] == \
        "CANCELLED"
    stop = requests.get(f"{a.base}/job-stop/w1?gpu=cpu", timeout=10).json()  # the stop signal, through the other
    assert stop == {"jobsToStop": [jobs[1].job_id]}
    assert a.health()["jobs"] == b.health()["jobs"]
    assert b.client().purge_queue()["removed"] == 3
    assert gauges(a)["podserve_endpoint_jobs_in_queue"] == 0.0

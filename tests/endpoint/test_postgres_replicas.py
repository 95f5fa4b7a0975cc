"""Two `podserve endpoint` replicas on one PostgreSQL database, the real `runpod` client spread over both, four SDK
workers (two started by each replica): 500 jobs (async, sync, streamed, cancelled). One replica is killed with -9
in the middle of the run and started again, and a worker is killed with -9 while it holds a job. Every job ends
exactly once, with the right output; every stream is complete and in order.

Not in `make test` (about a minute): `make test-postgres` runs it (its name carries "postgres")."""

import collections
import concurrent.futures
import os
import re
import signal
import time

import requests

from conftest import sdk_worker_command, start_endpoint

ASYNC, SYNC, STREAMED, CANCELLED = 200, 100, 100, 100
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def accepted_results(logs) -> collections.Counter:
    """Terminal results the replicas accepted, per job (each replica logs one line per accepted job-done)."""
    return collections.Counter(m for log in logs for m in re.findall(r"Job (\S+) COMPLETED on worker", log))


def status_anywhere(replicas, job_id) -> dict:
    """The job's status from the first replica that answers (what a load balancer does for a client)."""
    for ep in replicas:
        try:
            return requests.get(f"{ep.base}/status/{job_id}", headers=ep.headers(), timeout=5).json()
        except requests.RequestException:
            continue
    raise AssertionError("no replica answers")


def test_two_replicas_500_jobs_a_replica_and_a_worker_killed(postgres):
    db = postgres.new_database()
    args = ["--workers-min", "2", "--workers-max", "2", "--worker-command", sdk_worker_command(),
            "--sync-result-retention", "600"]
    env = {"SDK_CONCURRENCY": "2"}
    a = start_endpoint(args, db=db, env=env)
    b = start_endpoint(args, db=db, env=env)
    logs = []  # the logs of replicas that were stopped
    try:
        clients = [a.client(), b.client()]
        expected = {}  # job id -> expected output (None: cancelled)
        for i in range(ASYNC):
            job = clients[i % 2].run({"sleep": 0.05, "n": i})
            expected[job.job_id] = [{"slept": 0.05}]
        streamed = []
        for i in range(STREAMED):
            job = clients[i % 2].run({"count": 5, "n": i})
            streamed.append(job.job_id)
            expected[job.job_id] = [{"i": k} for k in range(5)]
        cancelled = []
        for i in range(CANCELLED):
            job = clients[i % 2].run({"sleep": 2, "n": i})
            # Cancelled through the other replica.
            other = b if i % 2 == 0 else a
            r = requests.post(f"{other.base}/cancel/{job.job_id}", headers=other.headers(), timeout=10)
            assert r.status_code == 200, r.text
            cancelled.append(job.job_id)
            expected[job.job_id] = None

        # Sync jobs from a pool of client threads, spread over both replicas, while the faults happen.
        def run_sync(i):
            ep = (a, b)[i % 2]
            body = {"input": {"sleep": 0.05, "sync": i}}
            try:
                r = requests.post(f"{ep.base}/runsync?wait=120000", json=body, headers=ep.headers(), timeout=180)
                return r.json().get("id")
            except requests.RequestException:
                return None  # its replica was killed while it waited: the job is checked by id below if it has one

        pool = concurrent.futures.ThreadPoolExecutor(8)
        sync_futures = [pool.submit(run_sync, i) for i in range(SYNC)]

        # Streams read through replica b (the one that stays up), although half were submitted through a.
        def read_stream(job_id):
            items = []
            deadline = time.time() + 240
            while time.time() < deadline:
                r = requests.get(f"{b.base}/stream/{job_id}", headers=b.headers(), timeout=30).json()
                items += [s["output"] for s in r.get("stream", [])]
                if r["status"] in FINAL:
                    return r["status"], items
                time.sleep(0.1)
            return "TIMEOUT", items

        stream_futures = {job_id: pool.submit(read_stream, job_id) for job_id in streamed}

        def done():
            return sum(status_anywhere([b], j)["status"] == "COMPLETED" for j in list(expected)[:ASYNC:10])

        b.wait_until(lambda: done() >= 5, 120, "some jobs done")
        # A worker of b killed while it holds a job.
        def b_worker_holding_a_job():
            for job_id in expected:
                st = status_anywhere([b], job_id)
                if st["status"] == "IN_PROGRESS" and st.get("workerId") in b.worker_pids():
                    return st["workerId"]
            return None

        victim = b.wait_until(b_worker_holding_a_job, 60, "a worker of b holding a job")
        os.kill(b.worker_pids()[victim], signal.SIGKILL)
        # Replica a killed with -9 (its workers die with it), then started again on the same database. On a new
        # port: the old one may meanwhile be the local port of one of the test's many client connections.
        a.stop(signal.SIGKILL)
        logs.append(a.log())
        a.cleanup()
        a = start_endpoint(args, db=db, env=env)
        replicas = [a, b]

        sync_ids = [f.result(timeout=300) for f in sync_futures]
        for job_id in sync_ids:
            if job_id:
                expected[job_id] = [{"slept": 0.05}]
        lost_sync = sync_ids.count(None)
        assert lost_sync <= SYNC // 2, f"{lost_sync} /runsync calls got no answer"

        def all_final():
            return all(status_anywhere(replicas, j)["status"] in FINAL for j in expected)

        b.wait_until(all_final, 300, "every job to end")
        for job_id, output in expected.items():
            st = status_anywhere(replicas, job_id)
            if output is None:
                assert st["status"] == "CANCELLED", st
            else:
                assert st["status"] == "COMPLETED", st
                assert st["output"] == output, st
        for job_id, future in stream_futures.items():
            status, items = future.result(timeout=300)
            assert status == "COMPLETED", job_id
            assert items == expected[job_id], (job_id, items)
        pool.shutdown()

        # Exactly once: no job's result was accepted twice, by either replica, before or after the kill.
        logs += [a.log(), b.log()]
        counts = accepted_results(logs)
        assert all(n == 1 for n in counts.values()), {j: n for j, n in counts.items() if n != 1}
        assert f"Worker {victim} exited unexpectedly (signal 9)" in b.log()
        # Both replicas report the same queue figures, from the database.
        ha, hb = a.health()["jobs"], b.health()["jobs"]
        assert ha == hb, (ha, hb)
        assert ha["inQueue"] == 0 and ha["inProgress"] == 0
        assert ha["cancelled"] == CANCELLED
        assert ha["retried"] >= 1  # the jobs the killed worker and replica held ran again
    finally:
        for ep in (a, b):
            ep.stop()
            ep.cleanup()

"""Nothing lost: a worker killed with SIGKILL in the middle of 50 jobs, and an endpoint killed with 100 queued
jobs and started again; every job ends COMPLETED exactly once."""

import collections
import os
import re
import signal

from conftest import sdk_worker_command, start_endpoint


def completions_in_log(ep) -> collections.Counter:
    """How many terminal results the endpoint accepted per job (its log line per accepted job-done)."""
    return collections.Counter(re.findall(r"Job (\S+) COMPLETED on worker", ep.log()))


def test_kill_9_of_a_worker_in_the_middle_of_50_jobs(endpoint_factory):
    ep = endpoint_factory(["--workers-min", "2", "--workers-max", "2", "--worker-command", sdk_worker_command()],
                          env={"SDK_CONCURRENCY": "3"})
    client = ep.client()
    # One job runs for seconds: the worker seen holding it still holds it when it is killed (a 0.2 s job seen
    # IN_PROGRESS may be done by then, and a worker killed holding nothing proves nothing).
    held = 10
    sleeps = [3.0 if i == held else 0.2 for i in range(50)]
    jobs = [client.run({"sleep": s, "n": i}) for i, s in enumerate(sleeps)]
    ids = [j.job_id for j in jobs]

    def worker_holding_the_long_job():
        st = ep.status(ids[held])
        if st["status"] == "IN_PROGRESS" and st.get("workerId") in ep.worker_pids():
            return st["workerId"]
        return None

    ep.wait_until(lambda: sum(ep.status(i)["status"] == "COMPLETED" for i in ids) >= 5, 120, "5 finished jobs")
    victim = ep.wait_until(worker_holding_the_long_job, 60, "a worker holding the long job")
    os.kill(ep.worker_pids()[victim], signal.SIGKILL)

    ep.wait_until(lambda: all(ep.status(i)["status"] == "COMPLETED" for i in ids), 180, "all 50 jobs")
    for job_id, s in zip(ids, sleeps):
        assert ep.status(job_id)["output"] == [{"slept": s}], job_id
    counts = completions_in_log(ep)
    assert all(counts[i] == 1 for i in ids), {i: counts[i] for i in ids if counts[i] != 1}
    log = ep.log()
    assert f"Worker {victim} exited unexpectedly (signal 9)" in log
    ep.wait_until(lambda: len(ep.worker_pids()) >= 3, 30, "the crashed worker to be replaced")
    assert ep.health()["jobs"]["retried"] >= 1  # the job it held ran again


def test_endpoint_restart_with_100_queued_jobs_loses_none(endpoint_factory):
    first = endpoint_factory(["--workers-max", "0"])
    client = first.client()
    ids = [client.run({"echo": i}).job_id for i in range(100)]
    assert first.health()["jobs"]["inQueue"] == 100
    first.stop(signal.SIGKILL)  # no goodbye: what /run accepted must already be on disk

    second = endpoint_factory(["--workers-min", "0", "--workers-max", "2", "--scaler-type", "REQUEST_COUNT",
                               "--scaler-value", "50", "--worker-command", sdk_worker_command()], db=first.db,
                              env={"SDK_CONCURRENCY": "8"})
    second.wait_until(lambda: second.health()["jobs"]["completed"] == 100, 180, "100 completed jobs")
    for i, job_id in enumerate(ids):
        st = second.status(job_id)
        assert st["status"] == "COMPLETED"
        assert st["output"][0]["echo"] == i
    counts = completions_in_log(second)
    assert sorted(counts.values()) == [1] * 100


def test_sigterm_lets_running_jobs_finish_and_keeps_queued_ones(endpoint_factory):
    ep = endpoint_factory(["--workers-min", "1", "--workers-max", "1", "--worker-command", sdk_worker_command()])
    client = ep.client()
    running = client.run({"sleep": 1.5})
    ep.wait_until(lambda: ep.status(running.job_id)["status"] == "IN_PROGRESS", 60, "the job to start")
    queued = [client.run({"echo": i}).job_id for i in range(3)]
    ep.stop(signal.SIGTERM)
    assert ep.process.returncode == 0
    assert "exited unexpectedly" not in ep.log()

    again = endpoint_factory(["--workers-max", "0"], db=ep.db)
    assert again.status(running.job_id)["status"] == "COMPLETED"  # the worker finished it before going
    assert again.status(running.job_id)["output"] == [{"slept": 1.5}]
    assert [again.status(i)["status"] for i in queued] == ["IN_QUEUE"] * 3

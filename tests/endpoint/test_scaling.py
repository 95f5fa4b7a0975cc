"""Autoscaling of local workers as RunPod's REQUEST_COUNT scaler: min 0 / max 2 / value 1 — a burst starts two
workers (never more), and after the idle timeout both are stopped again."""

import os
import re

from conftest import sdk_worker_command


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie the endpoint has not reaped yet counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_burst_starts_two_workers_and_idle_ones_stop(endpoint_factory):
    ep = endpoint_factory(["--workers-min", "0", "--workers-max", "2", "--scaler-type", "REQUEST_COUNT",
                           "--scaler-value", "1", "--idle-timeout", "1", "--worker-command", sdk_worker_command()])
    assert ep.worker_pids() == {}
    h = ep.health()["workers"]
    assert h["idle"] + h["running"] + h["initializing"] == 0

    client = ep.client()
    ids = [client.run({"sleep": 0.5, "n": i}).job_id for i in range(8)]
    ep.wait_until(lambda: len(ep.worker_pids()) == 2, 30, "two workers")
    ep.wait_until(lambda: all(ep.status(i)["status"] == "COMPLETED" for i in ids), 120, "the burst")
    workers = {ep.status(i)["workerId"] for i in ids}
    assert workers == set(ep.worker_pids())  # both did work
    assert len(ep.worker_pids()) == 2         # and no third was started

    pids = list(ep.worker_pids().values())
    ep.wait_until(lambda: len(re.findall(r"Stopping idle worker", ep.log())) == 2, 30, "idle workers to stop")
    ep.wait_until(lambda: not any(alive(p) for p in pids), 30, "worker processes to exit")
    ep.wait_until(lambda: sum(ep.health()["workers"].values()) == 0, 10, "/health to show no workers")
    assert len(ep.worker_pids()) == 2


def test_a_worker_command_that_fails_is_retried_with_back_off(endpoint_factory):
    ep = endpoint_factory(["--workers-min", "1", "--workers-max", "1", "--worker-command", "sh -c 'exit 3'"])
    job = ep.client().run({"echo": 1})
    ep.wait_until(lambda: len(ep.worker_pids()) >= 2, 15, "a restart of the crashed worker")
    assert "exited unexpectedly (exit code 3)" in ep.log()
    # Back-off: 1 s, 2 s, 4 s ... between starts, not a busy loop.
    assert len(ep.worker_pids()) <= 3
    assert ep.status(job.job_id)["status"] == "IN_QUEUE"  # nothing lost while no worker can run
    assert ep.health()["jobs"]["inQueue"] == 1


def test_queue_delay_scaler_starts_a_worker_from_zero(endpoint_factory):
    ep = endpoint_factory(["--workers-max", "1", "--idle-timeout", "1", "--worker-command", sdk_worker_command()])
    assert ep.worker_pids() == {}  # QUEUE_DELAY (the default) with min 0: nothing runs while nothing waits
    out = ep.client().run_sync({"echo": "cold"}, timeout=60)
    assert out[0]["echo"] == "cold"
    assert list(ep.worker_pids()) == [out[0]["worker"]]
    ep.wait_until(lambda: "Stopping idle worker" in ep.log(), 30, "the idle worker to stop")

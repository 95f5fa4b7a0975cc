"""`podserve endpoint` start-up: help, bad settings (exit 2 naming the setting), an unusable database (exit 1)."""

import subprocess

from podserve_testutil import require_env


def run(*args, env=None):
    return subprocess.run([require_env("PODSERVE_BINARY"), "endpoint", *args], capture_output=True, text=True,
                          timeout=30, env=env)


def test_help_lists_runpods_setting_names():
    r = run("--help")
    assert r.returncode == 0
    for name in ("WORKERS_MIN", "WORKERS_MAX", "IDLE_TIMEOUT", "SCALER_TYPE", "SCALER_VALUE", "--worker-command"):
        assert name in r.stdout


def test_bad_settings_stop_start_up_with_a_clear_message():
    r = run("--workers-min", "3", "--workers-max", "1")
    assert r.returncode == 2 and "--workers-min" in r.stderr and "--workers-max" in r.stderr
    r = run("--scaler-type", "FASTEST")
    assert r.returncode == 2 and "QUEUE_DELAY or REQUEST_COUNT" in r.stderr
    r = run("--port", "99999")
    assert r.returncode == 2 and "--port" in r.stderr


def test_an_unusable_database_is_reported(tmp_path):
    r = run("--port", "0", "--db", str(tmp_path / "missing-dir" / "jobs.db"))
    assert r.returncode == 1
    assert "jobs.db" in r.stderr

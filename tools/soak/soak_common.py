"""What both soaks share: the process under test's resources from /proc, Prometheus text, the 10 s sampler, the
flatness figures against the targets, and the JSON + SVG report."""

import json
import os
import re
import socket
import statistics
import threading
import time

from svg_plot import write_svg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid: int) -> dict:
    """RSS (MiB), threads and open file descriptors of a live process; {} once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            status = f.read()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return {}
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    return {"rss_mib": rss_kb / 1024, "threads": threads, "fds": fds}


def children(pid: int) -> list:
    """The live child processes of `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def parse_metrics(text: str) -> dict:
    """Prometheus text -> {'name{labels}': value} (and the bare name for unlabelled samples)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def metric_sum(metrics: dict, name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


class Sampler:
    """Calls `sample()` every `period` seconds on its own thread and keeps the rows (t = seconds since start)."""

    def __init__(self, sample, period: float):
        self.sample, self.period = sample, period
        self.rows, self.marks = [], []
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, label: str) -> None:
        self.marks.append((self.now(), label))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def _take(self) -> None:
        try:
            row = self.sample()
        except Exception as e:  # noqa: BLE001 - a failed sample is recorded, not fatal
            row = {"sample_error": repr(e)}
        row["t"] = round(self.now(), 1)
        self.rows.append(row)

    def _run(self) -> None:
        while not self._stop.wait(self.period - (self.now() % self.period)):
            self._take()


def growth(rows: list, key: str, window_s: float) -> dict:
    """How much `key` grew over the last `window_s` seconds: the median of the window's last minute against the
    median of its first minute (medians, so one GC-like spike does not decide it)."""
    pts = [(r["t"], r[key]) for r in rows if key in r]
    if not pts:
        return {}
    end = pts[-1][0]
    start = max(pts[0][0], end - window_s)
    first = [v for t, v in pts if start <= t <= start + 60]
    last = [v for t, v in pts if t >= end - 60]
    if not first or not last:
        return {}
    a, b = statistics.median(first), statistics.median(last)
    return {"window_s": round(end - start), "start": a, "end": b, "growth_pct": round(100 * (b - a) / a, 2) if a else 0.0,
            "max": max(v for t, v in pts if t >= start)}


def write_report(out_dir: str, name: str, title: str, summary: dict, rows: list, marks: list, panels: list) -> None:
    """`panels`: [(panel title, [(series name, row key)])]."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump({"summary": summary, "samples": rows, "marks": marks}, f, indent=1)
    t_max = rows[-1]["t"] if rows else 1
    chart = [(ptitle, {sname: [(r["t"], r[key]) for r in rows if key in r] for sname, key in series})
             for ptitle, series in panels]
    write_svg(os.path.join(out_dir, f"{name}.svg"), title, chart, t_max, marks)

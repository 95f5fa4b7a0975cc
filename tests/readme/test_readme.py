"""README.md's examples, run as written, with what they print compared to what the README says they print.

The blocks come from README.md itself (readme_blocks.py has the conventions), so an edit to the README is what
gets tested. Commands run in README order, as a reader would type them in the clone: `make serve` and the other
server commands (`podserve serve`, `podserve endpoint`) keep running in the background for the blocks after them,
the Python snippets run with the test venv's interpreter (the official `openai` and `runpod` clients).

The one thing changed is the port, so that the test can run next to other servers: a server gets a free port
(through `--port` when the command has it, else the PORT / ENDPOINT_PORT variable the README documents) and
listens on 127.0.0.1; `localhost:<README port>` in the snippets is rewritten to it.

The whole README runs once per kernel ISA: what the machine has, then capped with PODSERVE_ISA=avx2 (unless that
is what the machine has) and scalar, so that what it says it prints is what every CPU prints.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from podserve_testutil import free_port
from readme_blocks import ReadmeError, normalized_output, parse, shell_commands

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SERVER_COMMAND = re.compile(r"^(make serve\b|\S*podserve (serve|endpoint)\b)")
DEFAULT_PORT = {"serve": 8000, "endpoint": 8080}
PORT_ENV = {"serve": ("PORT", "HOST"), "endpoint": ("ENDPOINT_PORT", "ENDPOINT_HOST")}
LOCALHOST_PORT = re.compile(r"\b(localhost|127\.0\.0\.1):(\d+)\b")
SERVER_START_TIMEOUT_S = 600  # `make serve` builds first: a no-op once built, minutes on a fresh clone
BLOCK_TIMEOUT_S = 300

try:
    BLOCKS = parse(README.read_text(encoding="utf-8"))
    PARSE_ERROR = None
except ReadmeError as e:
    BLOCKS, PARSE_ERROR = [], str(e)
RUN = [b for b in BLOCKS if b.skip_reason is None and b.lang in ("sh", "python")]


def cpu_flags() -> set[str]:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        return {flag for line in f if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


# "native" leaves PODSERVE_ISA unset: the best the CPU has. When that is AVX2 (no VNNI, AVX-512 or AMX), the
# avx2 run would repeat it exactly, so it is not run twice.
FLAGS = cpu_flags()
ABOVE_AVX2 = bool(FLAGS & {"avx_vnni", "avx512_vnni", "amx_int8"})
ISAS = ["native"] + (["avx2"] if "avx2" in FLAGS and ABOVE_AVX2 else []) + ["scalar"]


class ReadmeRun:
    """Runs the README's blocks in order under one ISA, keeping the servers they start until close()."""

    def __init__(self, isa: str):
        self.isa = isa
        self.env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        self.env.pop("PODSERVE_ISA", None)
        if isa != "native":
            self.env["PODSERVE_ISA"] = isa
        # The clone as the README's relative paths expect it, in a folder of its own (the endpoint's database).
        self.workdir = Path(tempfile.mkdtemp(prefix=f"podserve-readme-{isa}-"))
        for name in ("build", "models"):
            (self.workdir / name).symlink_to(REPO / name)
        self.ports: dict[int, int] = {}  # README port -> the port the server really listens on
        self.servers: list[tuple[subprocess.Popen, Path]] = []
        self.outputs: dict[int, str] = {}  # block line -> what it printed
        self.errors: dict[int, str] = {}
        self.done = 0

    def output_of(self, block) -> str:
        while self.done <= RUN.index(block):
            b = RUN[self.done]
            self.done += 1
            try:
                self.outputs[b.line] = self.run_block(b)
            except AssertionError as e:
                self.errors[b.line] = str(e)
        if block.line in self.errors:
            raise AssertionError(self.errors[block.line])
        return self.outputs[block.line]

    def run_block(self, block) -> str:
        if block.lang == "python":
            return self.run_python(block)
        out = ""
        for command in shell_commands(block.code):
            if SERVER_COMMAND.match(command):
                self.start_server(command, block)
            else:
                out += self.run(["bash", "-c", command], block, cwd=self.workdir)
        return out

    def run(self, argv: list[str], block, cwd: Path) -> str:
        try:
            p = subprocess.run(argv, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{block.name} ran longer than {BLOCK_TIMEOUT_S} s\n{self.server_logs()}")
        assert p.returncode == 0, (f"{block.name} exited with {p.returncode}\n--- stdout ---\n{p.stdout}\n"
                                   f"--- stderr ---\n{p.stderr}\n{self.server_logs()}")
        return p.stdout

    def run_python(self, block) -> str:
        def to_real_port(m: re.Match) -> str:
            readme_port = int(m.group(2))
            assert readme_port in self.ports, (
                f"{block.name} talks to {m.group(0)}, but no block before it starts a server on that port")
            return f"{m.group(1)}:{self.ports[readme_port]}"

        code = LOCALHOST_PORT.sub(to_real_port, block.code)
        return self.run([sys.executable, "-c", code], block, cwd=self.workdir)

    def start_server(self, command: str, block) -> None:
        m = SERVER_COMMAND.match(command)
        kind = "serve" if m.group(1).startswith("make") else m.group(2)
        port = free_port()
        env = dict(self.env)
        port_flag = re.search(r"--port[ =](\d+)", command)
        if port_flag:
            readme_port = int(port_flag.group(1))
            command = command.replace(port_flag.group(0), f"--port {port}")
        else:
            readme_port = DEFAULT_PORT[kind]
            env[PORT_ENV[kind][0]] = str(port)
        env[PORT_ENV[kind][1]] = "127.0.0.1"  # flags win: only where the README sets no --host
        log = self.workdir / f"server-{len(self.servers)}.log"
        cwd = REPO if command.startswith("make") else self.workdir
        with open(log, "w", encoding="utf-8") as f:
            proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.servers.append((proc, log))
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{block.name}: `{command}` exited with {proc.returncode}\n{self.server_logs()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                self.ports[readme_port] = port
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"{block.name}: `{command}` did not listen within {SERVER_START_TIMEOUT_S} s\n"
                             f"{self.server_logs()}")

    def server_logs(self, lines: int = 40) -> str:
        out = ""
        for proc, log in self.servers:
            tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-lines:])
            out += f"--- {log.name} (pid {proc.pid}) ---\n{tail}"
        return out

    def close(self) -> None:
        for proc, _ in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def readme_runs():
    """ISA -> its ReadmeRun; the previous ISA's servers stop when the next ISA starts."""
    runs: dict[str, ReadmeRun] = {}

    def get(isa: str) -> ReadmeRun:
        if isa not in runs:
            for other in runs.values():
                other.close()
            runs[isa] = ReadmeRun(isa)
        return runs[isa]

    yield get
    for run in runs.values():
        run.close()


def test_readme_blocks_are_run_or_excluded():
    assert PARSE_ERROR is None, PARSE_ERROR
    assert RUN, "README.md has no block to run"
    for b in BLOCKS:
        if b.skip_reason:
            print(f"{b.name}: not run: {b.skip_reason}")
        elif b in RUN:
            print(f"{b.name}: run" + (", output compared" if b.expected is not None else ""))
        else:
            print(f"{b.name}: shown, not run (not sh or python)")


@pytest.mark.parametrize("isa,block", [(isa, b) for isa in ISAS for b in RUN],
                         ids=[f"{isa}-line{b.line}" for isa in ISAS for b in RUN])
def test_readme_block(isa, block, readme_runs):
    out = readme_runs(isa).output_of(block)
    if block.expected is not None:
        assert normalized_output(out) == normalized_output(block.expected), (
            f"{block.name} printed something else than the README says (PODSERVE_ISA={isa})")


def test_block_conventions_on_a_small_readme():
    blocks = parse("# A\n```sh\necho hi \\\n  there\n```\nprints\n```text\nhi there\n```\n"
                   "<!-- readme-test: skip: needs docker -->\n```sh\ndocker build .\n```\n"
                   "```json\n{}\n```\n```text\nshown only\n```\n")
    assert [(b.lang, b.line, b.skip_reason) for b in blocks] == [
        ("sh", 2, None), ("sh", 11, "needs docker"), ("json", 14, None), ("text", 17, None)]
    assert blocks[0].expected == "hi there\n"
    assert shell_commands(blocks[0].code) == ["echo hi \\\n  there"]
    with pytest.raises(ReadmeError):
        parse("<!-- readme-test: skip: why -->\n\n```sh\nls\n```\n")  # the mark must touch its fence
    with pytest.raises(ReadmeError):
        parse("```sh\nls\n")

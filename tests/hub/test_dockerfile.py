"""The Dockerfile cannot be built here (no Docker engine), so this checks what can be checked without one:
its build stage runs the same scripts and make targets as CI (.ci/run, followed through the Makefile), the
binary it copies is where `make build` puts it, the runtime stage installs the package of every shared library
the real binary needs (objdump + ldd + dpkg), and the entry point picks `worker` or `serve` as documented."""

import json
import os
import re
import shlex
import stat
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Present in debian:12-slim already (Essential, or needed by apt itself).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def dockerfile_stages():
    """{stage name: [(instruction, arguments)]}, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in read("Dockerfile").splitlines() if not l.lstrip().startswith("#")))
    stages, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = args.split()
            current = words[2] if len(words) >= 3 and words[1].upper() == "AS" else words[0]
            stages[current] = []
        elif current is not None:
            stages[current].append((instruction, args.strip()))
    return stages


def shell_commands(script):
    """Simple commands of a shell line, split on &&, ||, ;, | and parentheses, each as an argv (leading VAR=x
    assignments dropped). Quoting is honoured (shlex), so an operator inside quotes does not split."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    commands, argv = [], []
    for token in lexer:
        if token and set(token) <= set(";&|()"):
            commands.append(argv)
            argv = []
        else:
            argv.append(token)
    commands.append(argv)
    out = []
    for argv in commands:
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            argv = argv[1:]
        if argv:
            out.append(argv)
    return out


def makefile_rules():
    """{target: (prerequisites, [recipe lines])} of the top Makefile."""
    rules, target = {}, None
    for line in read("Makefile").splitlines():
        if line.startswith("\t") and target:
            rules[target][1].append(line.strip().lstrip("@"))
        elif re.match(r"^[A-Za-z0-9_.-]+:(?!=)", line) and not line.startswith("."):
            name, _, prereqs = line.partition(":")
            target = name.strip()
            rules[target] = (prereqs.split(), [])
        elif not line.startswith("\t"):
            target = None
    return rules


def ci_steps():
    """Make targets and scripts that CI runs: .ci/run's commands, followed through the Makefile."""
    rules = makefile_rules()
    targets, scripts = set(), set()

    def visit(target):
        if target in targets or target not in rules:
            return
        targets.add(target)
        prereqs, recipe = rules[target]
        for p in prereqs:
            visit(p)
        for line in recipe:
            for argv in shell_commands(line):
                if argv[0].startswith("scripts/"):
                    scripts.add(argv[0])

    for line in read(".ci/run").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        for argv in shell_commands(line):
            if argv[0] == "make":
                for t in [a for a in argv[1:] if "=" not in a and not a.startswith("-")] or ["all"]:
                    visit(t)
            elif argv[0].startswith("scripts/"):
                scripts.add(argv[0])
    return targets, scripts


def test_build_stage_runs_the_ci_steps():
    stages = dockerfile_stages()
    assert list(stages) == ["build", "runtime"]
    ci_targets, ci_scripts = ci_steps()
    assert "build" in ci_targets and "scripts/setup" in ci_scripts  # what CI does, read from .ci/run + Makefile
    runs = [argv for instr, args in stages["build"] if instr == "RUN" for argv in shell_commands(args)]
    docker_targets = {t for argv in runs if argv[0] == "make" for t in argv[1:] if "=" not in t}
    docker_scripts = {argv[0] for argv in runs if argv[0].startswith("scripts/")}
    assert docker_scripts == {"scripts/setup"}
    assert docker_targets == {"build"}
    # Nothing the image build runs is outside what CI runs, so CI keeps these steps working.
    assert docker_targets <= ci_targets and docker_scripts <= ci_scripts
    # The scripts run are copied before they are run.
    copies = [args for instr, args in stages["build"] if instr == "COPY"]
    assert copies[0].split() == ["scripts/", "scripts/"] and "requirements/" in copies[1]


def test_runtime_copies_the_binary_make_build_produces():
    rules = makefile_rules()
    build_recipe = " ".join(rules["build"][1])
    preset = re.search(r"cmake --build --preset (\S+)", build_recipe).group(1)
    presets = json.loads(read("CMakePresets.json"))["configurePresets"]
    binary_dir = next(p for p in presets if p["name"] == "base")["binaryDir"]
    binary_dir = binary_dir.replace("${sourceDir}/", "").replace("${presetName}", preset)
    copies = [args.split() for instr, args in dockerfile_stages()["runtime"] if instr == "COPY"]
    from_build = [c for c in copies if c[0] == "--from=build"]
    assert from_build == [["--from=build", f"/src/{binary_dir}/podserve", "/usr/local/bin/podserve"]]
    workdir = [args for instr, args in dockerfile_stages()["build"] if instr == "WORKDIR"]
    assert workdir == ["/src"]


def test_runtime_installs_the_packages_of_every_linked_library():
    binary = os.environ.get("PODSERVE_BINARY")
    if not binary:
        pytest.exit("PODSERVE_BINARY is not set; run through ctest", returncode=2)
    # The libraries the binary itself needs (DT_NEEDED); apt brings their own dependencies along.
    dynamic = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)", dynamic, re.M))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = [path for name, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M) if name in needed]
    assert libs and len(libs) == len(needed - {"ld-linux-x86-64.so.2"}), (needed, ldd)
    packages = set()
    for lib in libs:
        real = os.path.realpath(lib)
        for path in (lib, real, real.replace("/usr/lib/", "/lib/"), real.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode == 0:
                packages.add(r.stdout.split(":")[0].strip())
                break
        else:
            pytest.fail(f"no Debian package owns {lib}")
    runs = " ".join(args for instr, args in dockerfile_stages()["runtime"] if instr == "RUN")
    installed = set()
    for argv in shell_commands(runs):
        if argv[:2] == ["apt-get", "install"]:
            installed |= {a for a in argv[2:] if not a.startswith("-")}
    missing = packages - installed - BASE_IMAGE_PACKAGES
    assert not missing, f"the runtime stage does not install {sorted(missing)} (the binary links them)"


@pytest.mark.parametrize("env,args,expected", [
    ({}, [], ["serve"]),
    ({}, ["--port", "9000"], ["serve", "--port", "9000"]),
    ({"RUNPOD_WEBHOOK_GET_JOB": "http://api/job-take/x"}, [], ["worker"]),
    ({"RUNPOD_WEBHOOK_GET_JOB": ""}, [], ["serve"]),
    ({"RUNPOD_WEBHOOK_GET_JOB": "http://api/job-take/x"}, ["download", "org/m"], ["download", "org/m"]),
])
def test_entrypoint_picks_worker_or_serve(tmp_path, env, args, expected):
    entry = os.path.join(ROOT, "docker", "entrypoint.sh")
    assert os.stat(entry).st_mode & stat.S_IXUSR
    assert ["/usr/local/bin/podserve-entrypoint"] == json.loads(
        next(a for i, a in dockerfile_stages()["runtime"] if i == "ENTRYPOINT"))
    fake = tmp_path / "podserve"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    run_env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **env}
    r = subprocess.run([entry, *args], env=run_env, capture_output=True, text=True, check=True)
    assert r.stdout.splitlines() == expected

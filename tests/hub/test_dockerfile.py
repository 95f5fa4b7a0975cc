"""The Dockerfiles cannot be built here (no Docker engine), so this checks what can be checked without one:
their build stages run the same scripts and make targets as CI (.ci/run, followed through the Makefile), the
binary they copy is where `make build` puts it, the runtime stages install the package of every shared library
the real binary needs (objdump + ldd + dpkg; the CUDA libraries by NVIDIA's package names), the CUDA image
(docker/Dockerfile.cuda) configures that build with PODSERVE_CUDA=on and bakes models exactly as the CPU one, and
the entry point picks `worker` or `serve` as documented."""

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
DOCKERFILES = ["Dockerfile", "docker/Dockerfile.cuda"]
CUDA_DOCKERFILE = "docker/Dockerfile.cuda"
# NVIDIA's CUDA repository packages (the ones its nvidia/cuda images install) of the CUDA libraries podserve may
# link; "X" is the version suffix, e.g. 13-0. libcuda.so.1 is the driver's, mounted by the container runtime.
CUDA_LIBRARY_PACKAGES = {"libcudart": "cuda-cudart-X", "libcublas": "libcublas-X", "libcublasLt": "libcublas-X",
                         "libcuda": None}


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def dockerfile_args(path="Dockerfile"):
    """The default values of the ARGs declared before the first stage."""
    return dict(re.findall(r"^ARG (\w+)=(\S*)$", read(path).split("\nFROM ")[0], re.M))


def dockerfile_stages(path="Dockerfile"):
    """{stage name: [(instruction, arguments)]}, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in read(path).splitlines() if not l.lstrip().startswith("#")))
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


@pytest.mark.parametrize("path", DOCKERFILES)
def test_build_stage_runs_the_ci_steps(path):
    stages = dockerfile_stages(path)
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


def make_build_preset():
    return re.search(r"cmake --build --preset (\S+)", " ".join(makefile_rules()["build"][1])).group(1)


@pytest.mark.parametrize("path", DOCKERFILES)
def test_runtime_copies_the_binary_make_build_produces(path):
    rules = makefile_rules()
    build_recipe = " ".join(rules["build"][1])
    preset = re.search(r"cmake --build --preset (\S+)", build_recipe).group(1)
    presets = json.loads(read("CMakePresets.json"))["configurePresets"]
    binary_dir = next(p for p in presets if p["name"] == "base")["binaryDir"]
    binary_dir = binary_dir.replace("${sourceDir}/", "").replace("${presetName}", preset)
    copies = [args.split() for instr, args in dockerfile_stages(path)["runtime"] if instr == "COPY"]
    from_build = [c for c in copies if c[0] == "--from=build"]
    assert from_build == [["--from=build", f"/src/{binary_dir}/podserve", "/usr/local/bin/podserve"]]
    workdir = [args for instr, args in dockerfile_stages(path)["build"] if instr == "WORKDIR"]
    assert workdir == ["/src"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_runtime_installs_the_packages_of_every_linked_library(dockerfile):
    binary = os.environ.get("PODSERVE_BINARY")
    if not binary:
        pytest.exit("PODSERVE_BINARY is not set; run through ctest", returncode=2)
    # The libraries the binary itself needs (DT_NEEDED); apt brings their own dependencies along.
    dynamic = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)", dynamic, re.M))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = [path for name, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M) if name in needed]
    assert libs and len(libs) == len(needed - {"ld-linux-x86-64.so.2"}), (needed, ldd)
    cuda = dockerfile == CUDA_DOCKERFILE
    suffix = dockerfile_args(dockerfile).get("CUDA_PKG", "")
    packages = {p.replace("X", suffix) for p in ("cuda-cudart-X", "libcublas-X")} if cuda else set()
    for lib in libs:
        stem = os.path.basename(lib).split(".so")[0]
        if stem in CUDA_LIBRARY_PACKAGES:  # a CUDA build's library: not in the CPU image, whose build has no nvcc
            if cuda and CUDA_LIBRARY_PACKAGES[stem]:
                packages.add(CUDA_LIBRARY_PACKAGES[stem].replace("X", suffix))
            continue
        real = os.path.realpath(lib)
        for path in (lib, real, real.replace("/usr/lib/", "/lib/"), real.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode == 0:
                packages.add(r.stdout.split(":")[0].strip())
                break
        else:
            pytest.fail(f"no Debian package owns {lib}")
    installed = apt_installed(dockerfile, "runtime")
    missing = packages - installed - BASE_IMAGE_PACKAGES
    assert not missing, f"the runtime stage does not install {sorted(missing)} (the binary links them)"


def apt_installed(path, stage):
    """The packages a stage's `apt-get install` lines name, with the file's ARG defaults substituted."""
    runs = " ".join(args for instr, args in dockerfile_stages(path)[stage] if instr == "RUN")
    for name, value in dockerfile_args(path).items():
        runs = runs.replace("$" + name, value)
    installed = set()
    for argv in shell_commands(runs):
        if argv[:2] == ["apt-get", "install"]:
            installed |= {a for a in argv[2:] if not a.startswith("-")}
    return installed


def test_cuda_image_builds_with_the_cuda_backend():
    build = dockerfile_stages(CUDA_DOCKERFILE)["build"]
    runs = [argv for instr, args in build if instr == "RUN" for argv in shell_commands(args)]
    # The configure `make build` runs (its preset), with PODSERVE_CUDA=on, before make build.
    configure = [argv for argv in runs if argv[0] == "cmake"]
    assert configure == [["cmake", "--preset", make_build_preset(), "-DPODSERVE_CUDA=on"]]
    assert runs.index(configure[0]) < runs.index(["make", "build"])
    suffix = dockerfile_args(CUDA_DOCKERFILE)["CUDA_PKG"]
    assert {f"cuda-nvcc-{suffix}", f"cuda-cudart-dev-{suffix}", f"libcublas-dev-{suffix}"} <= apt_installed(
        CUDA_DOCKERFILE, "build")
    assert f"cuda-compat-{suffix}" in apt_installed(CUDA_DOCKERFILE, "runtime")
    env = " ".join(args for instr, args in dockerfile_stages(CUDA_DOCKERFILE)["runtime"] if instr == "ENV")
    assert "NVIDIA_VISIBLE_DEVICES=all" in env and "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in env


def test_cuda_image_bakes_models_and_starts_as_the_cpu_one():
    """From the cache layout on, the runtime stages are the same instructions: build args, the baking step, the
    offline switch, the port and the entry point."""
    def tail(path):
        runtime = dockerfile_stages(path)["runtime"]
        start = next(i for i, (instr, args) in enumerate(runtime) if instr == "ENV" and "BASE_PATH=" in args)
        return runtime[start:]
    assert tail(CUDA_DOCKERFILE) == tail("Dockerfile")
    copies = [args for path in DOCKERFILES for instr, args in dockerfile_stages(path)["runtime"] if instr == "COPY"]
    assert copies.count("docker/entrypoint.sh /usr/local/bin/podserve-entrypoint") == 2


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

"""Syntax-checks each podserve_* library compiled as ONE translation unit holding every unity-eligible source file
of it, so a clash between two files' file-local names (anonymous namespaces, macros, `using namespace`) shows up
whatever the unity batch size and file order (the asan and tsan presets build with PODSERVE_UNITY_BUILD, batches of
8: a clash there is a red CI build). Run after `cmake --preset asan ...` (it reads build/asan/compile_commands.json
and the unity files CMake wrote); about a minute of CPU. Usage: python3 tools/unity_check.py [library-substring...]"""
import collections
import concurrent.futures as cf
import json
import os
import shlex
import subprocess
import sys

BUILD = "build/asan"


def jobs(filters):
    by_dir = collections.defaultdict(list)
    for e in json.load(open(f"{BUILD}/compile_commands.json")):
        if "unity_" in e["file"]:
            by_dir[os.path.dirname(e["file"])].append(e)
    for d, entries in sorted(by_dir.items()):
        if filters and not any(f in d for f in filters):
            continue
        includes = []
        for e in sorted(entries, key=lambda e: e["file"]):
            # a generated source the build has not written yet (the playground's files) is left out
            includes += [l for l in open(e["file"]) if l.startswith("#include") and os.path.exists(l.split('"')[1])]
        whole = os.path.join(d, "whole.cxx")
        with open(whole, "w") as f:
            f.write("".join(includes))
        first = entries[0]
        args, skip = [], False
        for a in shlex.split(first["command"]):
            if skip:
                skip = False
            elif a in ("-o", "-MF", "-MT"):
                skip = True
            elif "ccache" in a or a in ("-c", "-MD") or a.startswith(("-fsanitize", "-g")) or a == first["file"]:
                continue
            else:
                args.append(a)
        yield first["directory"], args + ["-fsyntax-only", whole], d


def check(job):
    cwd, cmd, d = job
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return d, p.returncode, p.stderr


def main():
    failed = 0
    with cf.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for d, rc, err in ex.map(check, list(jobs(sys.argv[1:]))):
            print("ok  " if rc == 0 else "FAIL", d.split(f"/{BUILD}/")[-1], flush=True)
            if rc:
                failed += 1
                print("\n".join(l for l in err.splitlines() if "error" in l or "note:" in l), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

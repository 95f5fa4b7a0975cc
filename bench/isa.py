"""The instruction-set paths podserve's CPU kernels can take on this machine, each as the PODSERVE_ISA cap that
selects it (src/kernels/cpu/isa.h), best first: `make bench` runs podserve at each, so a machine with AMX or
AVX-512 also shows what an AVX2-only one gets."""

# Path label, the PODSERVE_ISA value that caps the kernels at it (None: no cap, the best path), the CPU flags
# (/proc/cpuinfo) it needs. AMX also needs the kernel's permission; podserve falls back to AVX-512 without it.
PATHS = (
    ("amx-int8", None, {"amx_int8", "amx_tile", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"}),
    ("avx512", "avx512", {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"}),
    ("avx-vnni", "avx-vnni", {"avx_vnni", "avx2", "fma", "f16c"}),
    ("avx2", "avx2", {"avx2", "fma", "f16c"}),
    ("scalar", "scalar", set()),
)


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def available(flags=None):
    """[(label, cap)] of every path this CPU has, best first (scalar last)."""
    flags = cpu_flags() if flags is None else flags
    return [(label, cap) for label, cap, need in PATHS if need <= flags]


def select(spec, flags=None):
    """The paths of --isa: "simd" (default: every vector path the CPU has), "all" (with scalar), "best", or a
    comma-separated list of labels. The first is the best, used where only one podserve runs."""
    paths = available(flags)
    if spec == "all":
        return paths
    if spec == "simd":
        return [p for p in paths if p[0] != "scalar"] or paths
    if spec == "best":
        return paths[:1]
    wanted = spec.split(",")
    unknown = set(wanted) - {label for label, _ in paths}
    if unknown:
        raise ValueError(f"--isa: {', '.join(sorted(unknown))} not available here (have: "
                         f"{', '.join(label for label, _ in paths)})")
    return [p for p in paths if p[0] in wanted]

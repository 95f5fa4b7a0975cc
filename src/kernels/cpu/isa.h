// Which instruction-set paths the cpu:: ops may take. Detected once at run time; a cap lets tests run every
// path this machine has (AMX, AVX-512, AVX-VNNI, AVX2, scalar) against ref::, and lets the benchmark compare them.
#pragma once

#include <cpuid.h>

namespace podserve::kernels::cpu {

/// F16C (CPUID leaf 1, ECX bit 29), read directly: clang's __builtin_cpu_supports does not know "f16c".
inline bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && ((ecx >> 29) & 1u) != 0;
}

// kAvx512: AVX-512 F/BW/VL + AVX512-VNNI (decode matmuls); kAmx also implies kAvx512.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3, kAmx = 4 };

/// The best path this CPU (and OS) supports.
Isa detected_isa();
/// Limits the paths used from now on to `cap` (and what the CPU has); returns the previous cap. Not
/// synchronized with running ops: set it while no matmul runs.
Isa set_isa_cap(Isa cap);
/// min(detected_isa(), cap).
Isa active_isa();
const char* isa_name(Isa isa);

}  // namespace podserve::kernels::cpu

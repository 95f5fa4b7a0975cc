// Runs a check once per instruction-set path this CPU has (scalar up to AMX), with the kernels capped to that
// path: how the kernel tests hold every optimized path to the same answer as the plain one.
#pragma once

#include <gtest/gtest.h>

#include "kernels/cpu/isa.h"

namespace podserve::kernels {

template <typename Fn>
void on_every_isa(Fn fn) {
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvxVnni, cpu::Isa::kAvx512, cpu::Isa::kAmx}) {
    if (isa > cpu::detected_isa()) continue;
    SCOPED_TRACE(cpu::isa_name(isa));
    const cpu::Isa previous = cpu::set_isa_cap(isa);
    fn();
    cpu::set_isa_cap(previous);
  }
}

}  // namespace podserve::kernels

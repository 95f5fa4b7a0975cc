#include "model/registry.h"

#include "model/arch/llama.h"

namespace podserve {
namespace {
struct ArchEntry {
  const char* name;
  Result<std::unique_ptr<CausalLm>> (*create)(GgufFile file, int num_threads);
};
// GGUF writes Llama, Mistral and SmolLM2 all as "llama".
constexpr ArchEntry kArchitectures[] = {
    {"llama", &create_llama},
};
}  // namespace

std::string supported_architectures() {
  std::string out;
  for (const auto& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return out;
}

Result<std::unique_ptr<CausalLm>> create_causal_lm(GgufFile file, int num_threads) {
  PODSERVE_ASSIGN_OR_RETURN(std::string arch, file.get_string("general.architecture"));
  for (const auto& a : kArchitectures) {
    if (arch == a.name) return a.create(std::move(file), num_threads);
  }
  return unimplemented("unsupported architecture '" + arch + "' (supported: " + supported_architectures() + ")");
}

}  // namespace podserve

// The engine's table of loaded LoRA adapters (vLLM's LRUCacheWorkerLoRAManager): at most MAX_CPU_LORAS adapters
// kept in memory, least recently used dropped first. The engine thread owns it (no lock): the serve layer hands
// loaded adapters over through the engine's queue, and a request names its adapter by LoraRef. A request whose
// adapter was dropped reloads it from its path, as vLLM does; running sequences hold their own reference, so a
// drop never pulls weights from under them.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/request.h"

namespace podserve {

struct ModelConfig;

class LoraTable {
 public:
  /// `capacity` adapters at most (>= 1); reloads check ranks against `max_lora_rank`.
  LoraTable(int capacity, int max_lora_rank) : capacity_(capacity < 1 ? 1 : capacity), max_lora_rank_(max_lora_rank) {}

  /// Puts `adapter` under `ref.id` (replacing what that id held: a load in place), most recently used first;
  /// drops the least recently used beyond capacity.
  void put(const LoraRef& ref, std::shared_ptr<const LoraAdapter> adapter);
  /// The adapter of `ref` (now the most recently used), reloaded from ref.path for `config` if it was dropped.
  Result<std::shared_ptr<const LoraAdapter>> get(const LoraRef& ref, const ModelConfig& config);
  /// The ids held, most recently used first (for tests and logs).
  std::vector<int64_t> ids() const;

 private:
  struct Entry {
    int64_t id;
    std::shared_ptr<const LoraAdapter> adapter;
  };
  int capacity_;
  int max_lora_rank_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace podserve

// The adapters the OpenAI routes serve by name (vLLM's OpenAIServingModels.lora_requests): name -> id, path and
// parent (ServedLora without its weights, which live in the engine's table, engine/lora_table.h). The HTTP side's
// view, shared by the routes' threads under one mutex; the engine's step never touches it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "serve/lora_config.h"

namespace podserve {

class LoraRegistry {
 public:
  /// The adapter called `name`, if any.
  std::optional<ServedLora> find(const std::string& name) const;
  /// Every adapter, in load order.
  std::vector<ServedLora> list() const;
  /// The id `name` has (an in-place reload keeps it), or a new one.
  int64_t id_for(const std::string& name);
  /// Adds or replaces `entry` (by name; a replaced one keeps its place). False when `entry.name` is taken and
  /// `replace` is false (two loads of one name raced).
  bool put(const ServedLora& entry, bool replace);
  /// Drops `name`; false when it is not there.
  bool remove(const std::string& name);

 private:
  mutable std::mutex mutex_;
  std::vector<ServedLora> entries_;
  int64_t next_id_ = 1;
};

}  // namespace podserve

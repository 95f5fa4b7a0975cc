#include "engine/lora_table.h"

#include "model/lora.h"

namespace podserve {

void LoraTable::put(const LoraRef& ref, std::shared_ptr<const LoraAdapter> adapter) {
  entries_.remove_if([&](const Entry& e) { return e.id == ref.id; });
  entries_.push_front({ref.id, std::move(adapter)});
  while (static_cast<int>(entries_.size()) > capacity_) entries_.pop_back();
}

Result<std::shared_ptr<const LoraAdapter>> LoraTable::get(const LoraRef& ref, const ModelConfig& config) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->id != ref.id) continue;
    entries_.splice(entries_.begin(), entries_, it);
    return entries_.front().adapter;
  }
  Result<std::shared_ptr<const LoraAdapter>> loaded = load_lora_adapter(ref.path, config, max_lora_rank_);
  if (!loaded.ok()) {
    return Status(loaded.status().code(), "Loading lora " + ref.name + " failed: " + loaded.status().message());
  }
  put(ref, loaded.value());
  return loaded;
}

std::vector<int64_t> LoraTable::ids() const {
  std::vector<int64_t> out;
  for (const Entry& e : entries_) out.push_back(e.id);
  return out;
}

}  // namespace podserve

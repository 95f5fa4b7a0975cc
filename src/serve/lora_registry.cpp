#include "serve/lora_registry.h"

#include <algorithm>

namespace podserve {

std::optional<ServedLora> LoraRegistry::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const ServedLora& e : entries_) {
    if (e.name == name) return e;
  }
  return std::nullopt;
}

std::vector<ServedLora> LoraRegistry::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_;
}

int64_t LoraRegistry::id_for(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const ServedLora& e : entries_) {
    if (e.name == name) return e.id;
  }
  return next_id_++;
}

bool LoraRegistry::put(const ServedLora& entry, bool replace) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (ServedLora& e : entries_) {
    if (e.name != entry.name) continue;
    if (!replace) return false;
    e = entry;
    return true;
  }
  entries_.push_back(entry);
  return true;
}

bool LoraRegistry::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const ServedLora& e) { return e.name == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

}  // namespace podserve

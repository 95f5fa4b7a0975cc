// Boost.JSON keeps the last of duplicate object keys silently; formats that forbid duplicates (safetensors
// headers) check with this first.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podserve {

/// The first key that occurs twice in the top-level object of `json_text`, if any (nullopt also for invalid JSON,
/// which the caller's parse reports).
std::optional<std::string> find_duplicate_key(std::string_view json_text);

}  // namespace podserve

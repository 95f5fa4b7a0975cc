// Jobs as RunPod's API shows them: the status object of /status, /runsync, webhooks; small JSON helpers.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint/job_store.h"

namespace podserve::endpoint {

/// {"id", "status", "delayTime"?, "executionTime"?, "workerId"?, "output"?, "error"?}; times in ms.
boost::json::object job_status_json(const Job& job, int64_t now_ms);

/// Parses stored JSON text (always valid: it was parsed before it was stored); null on failure.
boost::json::value parse_stored(std::string_view text);

/// `a=b&c=d` → value of `name` (percent-decoded, '+' as space); all values when repeated.
std::vector<std::string> query_values(std::string_view query, std::string_view name);

/// Wall-clock milliseconds.
int64_t wall_ms();

/// A random RFC 4122 version-4 UUID.
std::string random_uuid();

}  // namespace podserve::endpoint

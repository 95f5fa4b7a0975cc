// GET /metrics: the engine's counters in the Prometheus text exposition format (version 0.0.4), under vLLM's
// metric names (engines.md §2 item 14), so dashboards and autoscalers written for vLLM work unchanged.
#pragma once

#include <string>
#include <string_view>

#include "engine/metrics.h"

namespace podserve {

/// The Content-Type of the exposition format (prometheus_client's CONTENT_TYPE_LATEST).
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `stats` with the label `model_name="<model_name>"`: gauges (running, waiting, KV-cache usage),
/// counters with the `_total` suffix (prefix-cache queries/hits, preemptions, prompt/generation tokens, request
/// successes by finish reason) and histograms with cumulative `_bucket{le=...}` lines, `_count` and `_sum`.
/// Every metric has `# HELP` and `# TYPE` lines; numbers are written as Python's prometheus_client writes them.
/// With `max_loras` > 0 (LoRA on) also vLLM's vllm:lora_requests_info gauge.
std::string render_prometheus(const EngineStats& stats, std::string_view model_name, int max_loras = 0);

}  // namespace podserve

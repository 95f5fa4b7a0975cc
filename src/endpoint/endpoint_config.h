// `podserve endpoint` configuration: flags, each with an environment variable named after RunPod's endpoint
// settings where one exists (workersMin → WORKERS_MIN, idleTimeout → IDLE_TIMEOUT, scalerType → SCALER_TYPE, ...).
// Flags win over the environment.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "serve/config.h"

namespace podserve::endpoint {

enum class ScalerType { kQueueDelay, kRequestCount };

struct EndpointConfig {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::string endpoint_id = "local";
  std::vector<std::string> api_keys;  // client side: `Authorization: Bearer <key>`; empty = open
  std::string worker_api_key;         // worker side (RUNPOD_AI_API_KEY): raw key; empty = open
  std::string db_path;                // default: podserve-endpoint-<id>.db in the working directory
  // Scaling of local worker processes (RunPod's endpoint settings).
  int workers_min = 0;
  int workers_max = 3;
  double idle_timeout_s = 5;
  ScalerType scaler_type = ScalerType::kQueueDelay;
  double scaler_value = 4;
  std::string worker_command;  // run with /bin/sh -c; default: this binary's `worker` subcommand
  // Jobs.
  int64_t execution_timeout_ms = 600000;
  int64_t ttl_ms = 86400000;
  int64_t ping_interval_ms = 10000;  // given to workers as RUNPOD_PING_INTERVAL
  int64_t lease_timeout_ms = 0;      // 0 = 3 ping intervals: a job whose worker is silent this long is re-queued
  int64_t job_take_wait_ms = 2000;   // job-take long poll
  int64_t result_retention_s = 1800;
  int64_t sync_result_retention_s = 60;
  double webhook_retry_delay_s = 10;
  int io_threads = 2;
  LogLevel log_level = LogLevel::kInfo;
  bool show_help = false;
};

Result<EndpointConfig> parse_endpoint_config(std::span<const std::string> args, const EnvLookup& env);
std::string endpoint_help_text();

}  // namespace podserve::endpoint

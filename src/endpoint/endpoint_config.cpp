#include "endpoint/endpoint_config.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <optional>

namespace podserve::endpoint {
namespace {

/// One setting: its flag, its environment variable ("" = none) and how a text value is applied.
struct Setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<Status(EndpointConfig&, const std::string&)> apply;
};

Result<int64_t> parse_int(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
    return invalid_argument(name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                            "], got '" + text + "'");
  }
  return v;
}

Result<double> parse_double(const std::string& name, const std::string& text, double lo, double hi) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || v < lo || v > hi) {
    return invalid_argument(name + " must be a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                            "], got '" + text + "'");
  }
  return v;
}

template <typename T>
auto int_setting(T EndpointConfig::*field, int64_t lo, int64_t hi) {
  return [field, lo, hi](EndpointConfig& c, const std::string& v) -> Status {
    PODSERVE_ASSIGN_OR_RETURN(int64_t x, parse_int("value", v, lo, hi));
    c.*field = static_cast<T>(x);
    return ok_status();
  };
}

auto double_setting(double EndpointConfig::*field, double lo, double hi) {
  return [field, lo, hi](EndpointConfig& c, const std::string& v) -> Status {
    PODSERVE_ASSIGN_OR_RETURN(double x, parse_double("value", v, lo, hi));
    c.*field = x;
    return ok_status();
  };
}

auto string_setting(std::string EndpointConfig::*field) {
  return [field](EndpointConfig& c, const std::string& v) -> Status {
    c.*field = v;
    return ok_status();
  };
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"--host", "ENDPOINT_HOST", "address to listen on (default 0.0.0.0)", string_setting(&EndpointConfig::host)},
      {"--port", "ENDPOINT_PORT", "port (default 8080)", int_setting(&EndpointConfig::port, 0, 65535)},
      {"--endpoint-id", "RUNPOD_ENDPOINT_ID", "the {endpoint_id} in /v2/{endpoint_id}/... (default local)",
       string_setting(&EndpointConfig::endpoint_id)},
      {"--api-key", "RUNPOD_API_KEY", "client key, sent as `Authorization: Bearer KEY` (repeatable; default none)",
       [](EndpointConfig& c, const std::string& v) -> Status {
         c.api_keys.push_back(v);
         return ok_status();
       }},
      {"--worker-api-key", "RUNPOD_AI_API_KEY", "key workers send (raw `Authorization`); given to started workers",
       string_setting(&EndpointConfig::worker_api_key)},
      {"--db", "ENDPOINT_DB",
       "job database: an SQLite file (default podserve-endpoint-<id>.db) or a postgresql:// URL (shared by replicas)",
       string_setting(&EndpointConfig::db_path)},
      {"--workers-min", "WORKERS_MIN", "workers always running (default 0)",
       int_setting(&EndpointConfig::workers_min, 0, 1000)},
      {"--workers-max", "WORKERS_MAX", "most workers started (default 3; 0 = start none, external workers only)",
       int_setting(&EndpointConfig::workers_max, 0, 1000)},
      {"--idle-timeout", "IDLE_TIMEOUT", "seconds a worker stays after its last job before it is stopped (default 5)",
       double_setting(&EndpointConfig::idle_timeout_s, 0, 86400)},
      {"--scaler-type", "SCALER_TYPE", "QUEUE_DELAY or REQUEST_COUNT (default QUEUE_DELAY)",
       [](EndpointConfig& c, const std::string& v) -> Status {
         if (v == "QUEUE_DELAY") c.scaler_type = ScalerType::kQueueDelay;
         else if (v == "REQUEST_COUNT") c.scaler_type = ScalerType::kRequestCount;
         else return invalid_argument("must be QUEUE_DELAY or REQUEST_COUNT, got '" + v + "'");
         return ok_status();
       }},
      {"--scaler-value", "SCALER_VALUE",
       "QUEUE_DELAY: seconds a job may wait before another worker starts; REQUEST_COUNT: jobs per worker (default 4)",
       double_setting(&EndpointConfig::scaler_value, 0.001, 1e6)},
      {"--worker-command", "WORKER_COMMAND", "shell command that starts one worker (default: `<this binary> worker`)",
       string_setting(&EndpointConfig::worker_command)},
      {"--execution-timeout-ms", "EXECUTION_TIMEOUT_MS", "default policy.executionTimeout (default 600000)",
       int_setting(&EndpointConfig::execution_timeout_ms, 1, int64_t{7} * 86400000)},
      {"--ttl-ms", "JOB_TTL_MS", "default policy.ttl (default 86400000)",
       int_setting(&EndpointConfig::ttl_ms, 1, int64_t{7} * 86400000)},
      {"--ping-interval-ms", "RUNPOD_PING_INTERVAL", "workers' heartbeat period (default 10000)",
       int_setting(&EndpointConfig::ping_interval_ms, 1000, 3600000)},
      {"--lease-timeout-ms", "ENDPOINT_LEASE_TIMEOUT_MS",
       "a running job whose worker is silent this long is re-queued (default 3 ping intervals)",
       int_setting(&EndpointConfig::lease_timeout_ms, 100, 86400000)},
      {"--job-take-wait-ms", "ENDPOINT_JOB_TAKE_WAIT_MS", "how long job-take waits for a job (default 2000)",
       int_setting(&EndpointConfig::job_take_wait_ms, 0, 60000)},
      {"--result-retention", "ENDPOINT_RESULT_RETENTION", "seconds /run results are kept (default 1800)",
       int_setting(&EndpointConfig::result_retention_s, 1, 86400 * 7)},
      {"--sync-result-retention", "ENDPOINT_SYNC_RESULT_RETENTION", "seconds /runsync results are kept (default 60)",
       int_setting(&EndpointConfig::sync_result_retention_s, 1, 86400 * 7)},
      {"--webhook-retry-delay", "ENDPOINT_WEBHOOK_RETRY_DELAY", "seconds between webhook attempts (default 10)",
       double_setting(&EndpointConfig::webhook_retry_delay_s, 0, 3600)},
      {"--io-threads", "ENDPOINT_IO_THREADS", "HTTP threads (default 2)",
       int_setting(&EndpointConfig::io_threads, 1, 64)},
      {"--log-level", "VLLM_LOGGING_LEVEL", "DEBUG, INFO, WARNING or ERROR (default INFO)",
       [](EndpointConfig& c, const std::string& v) -> Status {
         if (!parse_log_level(v, &c.log_level)) return invalid_argument("must be DEBUG, INFO, WARNING or ERROR");
         return ok_status();
       }},
  };
  return kSettings;
}

}  // namespace

Result<EndpointConfig> parse_endpoint_config(std::span<const std::string> args, const EnvLookup& env) {
  EndpointConfig c;
  for (const Setting& s : settings()) {
    if (!*s.env) continue;
    std::optional<std::string> v = env(s.env);
    if (!v || v->empty()) continue;
    if (Status st = s.apply(c, *v); !st.ok()) return invalid_argument(std::string(s.env) + ": " + st.message());
  }
  bool api_keys_from_flags = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (flag == "-h" || flag == "--help") {
      c.show_help = true;
      continue;
    }
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    const Setting* match = nullptr;
    for (const Setting& s : settings()) {
      if (flag == s.flag) match = &s;
    }
    if (!match) return invalid_argument("unknown option '" + flag + "' (see `podserve endpoint --help`)");
    if (!value) {
      if (i + 1 >= args.size()) return invalid_argument(flag + " needs a value");
      value = args[++i];
    }
    if (flag == "--api-key" && !api_keys_from_flags) {  // flags replace the environment's key
      c.api_keys.clear();
      api_keys_from_flags = true;
    }
    if (Status st = match->apply(c, *value); !st.ok()) return invalid_argument(flag + ": " + st.message());
  }
  if (c.workers_min > c.workers_max) {
    return invalid_argument("--workers-min (WORKERS_MIN) " + std::to_string(c.workers_min) +
                            " is more than --workers-max (WORKERS_MAX) " + std::to_string(c.workers_max));
  }
  if (c.endpoint_id.empty() || c.endpoint_id.find('/') != std::string::npos) {
    return invalid_argument("--endpoint-id must be a non-empty name without '/'");
  }
  if (c.lease_timeout_ms == 0) c.lease_timeout_ms = 3 * c.ping_interval_ms;
  if (c.db_path.empty()) c.db_path = "podserve-endpoint-" + c.endpoint_id + ".db";
  return c;
}

std::string endpoint_help_text() {
  std::string out =
      "Usage: podserve endpoint [options]\n\n"
      "A local RunPod-compatible serverless endpoint: RunPod's client API under /v2/<endpoint-id>/ (run, runsync,\n"
      "status, stream, cancel, retry, purge-queue, health, openai/v1/...), the worker protocol (job-take, job-done,\n"
      "job-stream, job-stop, ping), a durable SQLite job queue and autoscaled local worker processes.\n\n"
      "Options (environment variable in brackets; flags win):\n";
  for (const Setting& s : settings()) {
    out += "  " + std::string(s.flag);
    out.append(s.flag[0] && std::string(s.flag).size() < 24 ? 24 - std::string(s.flag).size() : 1, ' ');
    out += s.help;
    if (*s.env) out += " [" + std::string(s.env) + "]";
    out += "\n";
  }
  return out;
}

}  // namespace podserve::endpoint

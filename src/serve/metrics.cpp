#include "serve/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>

namespace podserve {
namespace {

/// A sample value or bucket bound as prometheus_client writes it (Python's repr of a float): "3.0", "0.005",
/// "1e-05", "+Inf".
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "0.0";
  std::string s(buf, end);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

/// Label values escape backslash, double quote and newline.
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// HELP text escapes backslash and newline.
std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  explicit Exposition(std::string_view model_name) : model_label_("model_name=\"" + escape_label(model_name) + "\"") {}

  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  /// `name{model_name="...",<extra>} value`: the metric's own labels first, as prometheus_client writes them.
  void sample(std::string_view name, double value, std::string_view extra_labels = {}) {
    out_ += name;
    out_ += '{';
    out_ += model_label_;
    if (!extra_labels.empty()) {
      out_ += ',';
      out_ += extra_labels;
    }
    out_ += "} ";
    out_ += format_value(value);
    out_ += '\n';
  }

  /// A sample without the model_name label (a gauge vLLM makes with its own labels only).
  void bare_sample(std::string_view name, double value, std::string_view labels) {
    out_ += name;
    out_ += '{';
    out_ += labels;
    out_ += "} ";
    out_ += format_value(value);
    out_ += '\n';
  }

  void gauge(std::string_view name, std::string_view help, double value) {
    header(name, "gauge", help);
    sample(name, value);
  }

  void counter(std::string_view name, std::string_view help, double value) {
    const std::string full = std::string(name) + "_total";
    header(full, "counter", help);
    sample(full, value);
  }

  /// Buckets are rendered cumulatively; the stats hold per-bucket counts with the +Inf bucket last.
  void histogram(std::string_view name, std::string_view help, const Histogram& h) {
    header(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      const double le = i < h.bounds.size() ? h.bounds[i] : INFINITY;
      sample(bucket, static_cast<double>(cumulative), "le=\"" + format_value(le) + "\"");
    }
    if (h.counts.size() <= h.bounds.size()) {  // malformed stats: still close with +Inf
      sample(bucket, static_cast<double>(h.count), "le=\"+Inf\"");
    }
    sample(std::string(name) + "_count", static_cast<double>(h.count));
    sample(std::string(name) + "_sum", h.sum);
  }

  std::string take() { return std::move(out_); }

 private:
  std::string model_label_;
  std::string out_;
};

}  // namespace

std::string render_prometheus(const EngineStats& stats, std::string_view model_name, int max_loras) {
  Exposition e(model_name);
  e.gauge("vllm:num_requests_running", "Number of requests in model execution batches.", stats.num_running);
  // vLLM counts a request waiting for its structured-output grammar as waiting.
  e.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
          stats.num_waiting + stats.num_waiting_for_grammar);
  e.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", stats.kv_cache_usage);
  // podserve's own: what structured outputs hold (vLLM has no such metric).
  e.gauge("podserve:structured_output_matchers", "Unfinished sequences holding a structured-output grammar matcher.",
          stats.grammar_matchers);
  e.counter("podserve:structured_output_grammars_compiled", "Structured-output grammars compiled (compile cache misses).",
            static_cast<double>(stats.grammar_compiles));
  e.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
            static_cast<double>(stats.prefix_cache_queries));
  e.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
            static_cast<double>(stats.prefix_cache_hits));
  e.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
            static_cast<double>(stats.num_preemptions));
  e.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", static_cast<double>(stats.prompt_tokens));
  e.counter("vllm:generation_tokens", "Number of generation tokens processed.",
            static_cast<double>(stats.generation_tokens));

  // Speculative decoding's counters exist only when it is on (vLLM's SpecDecodingProm).
  if (!stats.spec_accepted_per_pos.empty()) {
    e.counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", static_cast<double>(stats.spec_num_drafts));
    e.counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.",
              static_cast<double>(stats.spec_num_draft_tokens));
    e.counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.",
              static_cast<double>(stats.spec_num_accepted_tokens));
    e.header("vllm:spec_decode_num_accepted_tokens_per_pos_total", "counter", "Accepted tokens per draft position.");
    for (size_t i = 0; i < stats.spec_accepted_per_pos.size(); ++i) {
      e.sample("vllm:spec_decode_num_accepted_tokens_per_pos_total", static_cast<double>(stats.spec_accepted_per_pos[i]),
               "position=\"" + std::to_string(i) + "\"");
    }
  }

  // vLLM's LoRA gauge (with LoRA on): its own labels only, one child per adapter list ever seen, each set to the
  // time it was last seen. vLLM 0.32.0 lists every adapter with an unfinished request under both labels.
  if (max_loras > 0) {
    e.header("vllm:lora_requests_info", "gauge", "Running stats on lora requests.");
    for (const auto& [set, time] : stats.lora_adapter_sets) {
      const std::string names = escape_label(set);
      e.bare_sample("vllm:lora_requests_info", time,
                    "max_lora=\"" + std::to_string(max_loras) + "\",waiting_lora_adapters=\"" + names +
                        "\",running_lora_adapters=\"" + names + "\"");
    }
  }

  // Every finish reason appears, at 0 until it happens (vLLM creates the labelled children up front).
  std::map<std::string, int64_t> success = {{"stop", 0}, {"length", 0}, {"abort", 0}};
  for (const auto& [reason, count] : stats.request_success) success[reason] += count;
  e.header("vllm:request_success_total", "counter", "Count of successfully processed requests.");
  for (const auto& [reason, count] : success) {
    e.sample("vllm:request_success_total", static_cast<double>(count),
             "finished_reason=\"" + escape_label(reason) + "\"");
  }

  e.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
              stats.time_to_first_token);
  e.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
              stats.inter_token_latency);
  e.histogram("vllm:time_per_output_token_seconds",
              "Histogram of time per output token in seconds. DEPRECATED: use vllm:inter_token_latency_seconds.",
              stats.inter_token_latency);
  e.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
              stats.e2e_request_latency);
  return e.take();
}

}  // namespace podserve

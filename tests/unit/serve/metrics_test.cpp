// The Prometheus exposition of engine stats, checked line by line on small hand-made stats.
#include "serve/metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace podserve {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

EngineStats small_stats() {
  EngineStats s;
  s.num_running = 3;
  s.num_waiting = 1;
  s.num_waiting_for_grammar = 1;  // waiting for its structured-output grammar: counted as waiting, as vLLM
  s.grammar_matchers = 4;
  s.kv_cache_usage = 0.25;
  s.prefix_cache_queries = 320;
  s.prefix_cache_hits = 288;
  s.num_preemptions = 2;
  s.prompt_tokens = 1000;
  s.generation_tokens = 512;
  s.request_success = {{"stop", 5}, {"length", 7}};
  s.e2e_request_latency = Histogram({0.5, 1.0});
  s.e2e_request_latency.observe(0.2);
  s.e2e_request_latency.observe(0.7);
  s.e2e_request_latency.observe(0.9);
  s.e2e_request_latency.observe(4.0);
  return s;
}

TEST(MetricsTest, GaugesAndCounters) {
  const std::string text = render_prometheus(small_stats(), "my-model");
  for (const char* line : {
           "# HELP vllm:num_requests_running Number of requests in model execution batches.",
           "# TYPE vllm:num_requests_running gauge",
           "vllm:num_requests_running{model_name=\"my-model\"} 3.0",
           "vllm:num_requests_waiting{model_name=\"my-model\"} 2.0",
           "podserve:structured_output_matchers{model_name=\"my-model\"} 4.0",
           "# TYPE vllm:kv_cache_usage_perc gauge",
           "vllm:kv_cache_usage_perc{model_name=\"my-model\"} 0.25",
           "# TYPE vllm:prefix_cache_queries_total counter",
           "vllm:prefix_cache_queries_total{model_name=\"my-model\"} 320.0",
           "vllm:prefix_cache_hits_total{model_name=\"my-model\"} 288.0",
           "vllm:num_preemptions_total{model_name=\"my-model\"} 2.0",
           "vllm:prompt_tokens_total{model_name=\"my-model\"} 1000.0",
           "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
           "vllm:generation_tokens_total{model_name=\"my-model\"} 512.0",
           "# TYPE vllm:request_success_total counter",
           "vllm:request_success_total{model_name=\"my-model\",finished_reason=\"stop\"} 5.0",
           "vllm:request_success_total{model_name=\"my-model\",finished_reason=\"length\"} 7.0",
           "vllm:request_success_total{model_name=\"my-model\",finished_reason=\"abort\"} 0.0",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST(MetricsTest, HistogramIsCumulative) {
  const std::string text = render_prometheus(small_stats(), "m");
  // Observations 0.2, 0.7, 0.9, 4.0 against bounds 0.5, 1.0: per bucket 1, 2, 1 -> cumulative 1, 3, 4.
  for (const char* line : {
           "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.",
           "# TYPE vllm:e2e_request_latency_seconds histogram",
           "vllm:e2e_request_latency_seconds_bucket{model_name=\"m\",le=\"0.5\"} 1.0",
           "vllm:e2e_request_latency_seconds_bucket{model_name=\"m\",le=\"1.0\"} 3.0",
           "vllm:e2e_request_latency_seconds_bucket{model_name=\"m\",le=\"+Inf\"} 4.0",
           "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 4.0",
           "vllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 5.8",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
  // The default buckets of the other histograms, all empty; the inter-token one is also exported under
  // vLLM's older name.
  for (const char* line : {
           "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.001\"} 0.0",
           "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"2560.0\"} 0.0",
           "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"+Inf\"} 0.0",
           "vllm:inter_token_latency_seconds_count{model_name=\"m\"} 0.0",
           "# TYPE vllm:time_per_output_token_seconds histogram",
           "vllm:time_per_output_token_seconds_sum{model_name=\"m\"} 0.0",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST(MetricsTest, EveryLineIsWellFormed) {
  const std::string text = render_prometheus(small_stats(), "we\"ird\\name");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  int helps = 0, types = 0;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("# HELP ", 0) == 0) {
      ++helps;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      ++types;
    } else {
      // name{labels} value: vLLM's names, and podserve's own structured-output gauges
      ASSERT_TRUE(line.rfind("vllm:", 0) == 0 || line.rfind("podserve:structured_output_", 0) == 0) << line;
      size_t close = line.rfind("} ");
      ASSERT_NE(close, std::string::npos) << line;
      EXPECT_NE(line.find("{model_name=\"we\\\"ird\\\\name\""), std::string::npos) << line;
    }
  }
  EXPECT_EQ(helps, 15);  // 3 gauges, 6 counters, 4 histograms of vLLM; 1 gauge, 1 counter of podserve
  EXPECT_EQ(types, 15);
}

TEST(MetricsTest, LoraRequestsInfoAsVllm) {
  // vLLM 0.32.0 (v1/metrics/loggers.py): only with LoRA on; labels max_lora, waiting_lora_adapters,
  // running_lora_adapters and no model_name; one child per adapter list seen, valued at the time last seen.
  EngineStats s = small_stats();
  s.lora_adapter_sets = {{"alpha,be\"ta", 1765000000.5}, {"", 1765000001.25}};
  EXPECT_EQ(render_prometheus(s, "m").find("lora_requests_info"), std::string::npos);
  const std::string text = render_prometheus(s, "m", 2);
  for (const char* line : {
           "# HELP vllm:lora_requests_info Running stats on lora requests.",
           "# TYPE vllm:lora_requests_info gauge",
           "vllm:lora_requests_info{max_lora=\"2\",waiting_lora_adapters=\"alpha,be\\\"ta\","
           "running_lora_adapters=\"alpha,be\\\"ta\"} 1765000000.5",
           "vllm:lora_requests_info{max_lora=\"2\",waiting_lora_adapters=\"\",running_lora_adapters=\"\"} "
           "1765000001.25",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

}  // namespace
}  // namespace podserve

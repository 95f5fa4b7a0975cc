// The worker's environment (worker-vllm.md §1.1, §4.1), URL templating as runpod-python does it, and the
// classic worker's stream batch sizes (§2.3: 1, 3, 9, 27, 50, 50, ...).
#include "worker/worker_config.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "test_util.h"

namespace podserve::worker {
namespace {

using testing::env_of;

TEST(WorkerConfig, Defaults) {
  Result<WorkerConfig> c = parse_worker_config(env_of({}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->get_job_url, "");  // local mode
  EXPECT_EQ(c->post_output_url, "JOB_DONE_URL");
  EXPECT_EQ(c->post_stream_url, "JOB_STREAM_URL");
  EXPECT_EQ(c->ping_url, "");
  EXPECT_EQ(c->ping_interval_ms, 10000);
  EXPECT_EQ(c->max_concurrency, 30);
  EXPECT_EQ(c->batch.max, 50);
  EXPECT_EQ(c->batch.min, 1);
  EXPECT_EQ(c->batch.growth, 3);
  EXPECT_TRUE(c->raw_openai_output);
  EXPECT_EQ(c->worker_id.size(), 32u);  // random when RUNPOD_POD_ID is unset
}

TEST(WorkerConfig, CodeAndDocumentedNames) {
  Result<WorkerConfig> docs = parse_worker_config(
      env_of({{"DEFAULT_MIN_BATCH_SIZE", "2"}, {"DEFAULT_BATCH_SIZE_GROWTH_FACTOR", "1.5"}, {"DEFAULT_BATCH_SIZE", "9"}}));
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  EXPECT_EQ(docs->batch.min, 2);
  EXPECT_EQ(docs->batch.growth, 1.5);
  EXPECT_EQ(docs->batch.max, 9);
  // The names the worker's code reads win over the documented ones.
  Result<WorkerConfig> both = parse_worker_config(env_of(
      {{"MIN_BATCH_SIZE", "4"}, {"DEFAULT_MIN_BATCH_SIZE", "2"}, {"BATCH_SIZE_GROWTH_FACTOR", "5"},
       {"DEFAULT_BATCH_SIZE_GROWTH_FACTOR", "2"}}));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->batch.min, 4);
  EXPECT_EQ(both->batch.growth, 5);
}

TEST(WorkerConfig, RawOpenAiOutputSpellings) {
  for (auto [text, expected] : std::vector<std::pair<std::string, bool>>{
           {"1", true}, {"0", false}, {"true", true}, {"FALSE", false}, {"True", true}, {"2", true}}) {
    Result<WorkerConfig> c = parse_worker_config(env_of({{"RAW_OPENAI_OUTPUT", text}}));
    ASSERT_TRUE(c.ok()) << text;
    EXPECT_EQ(c->raw_openai_output, expected) << text;
  }
}

TEST(WorkerConfig, BadValuesNameTheVariable) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"MAX_CONCURRENCY", "0"}, {"MAX_CONCURRENCY", "many"}, {"DEFAULT_BATCH_SIZE", "1.5"},
           {"MIN_BATCH_SIZE", "-1"}, {"RUNPOD_PING_INTERVAL", "fast"}, {"RAW_OPENAI_OUTPUT", "yes please"},
           {"BATCH_SIZE_GROWTH_FACTOR", "0.5"}}) {
    Result<WorkerConfig> c = parse_worker_config(env_of({{name, value}}));
    ASSERT_FALSE(c.ok()) << name << "=" << value;
    EXPECT_NE(c.status().message().find(name), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(value), std::string::npos) << c.status().message();
  }
}

TEST(WorkerConfig, PlatformVariables) {
  Result<WorkerConfig> c = parse_worker_config(env_of({{"RUNPOD_WEBHOOK_GET_JOB", "http://h/v2/e/job-take/$ID?gpu=a"},
                                                       {"RUNPOD_WEBHOOK_PING", "PING_NOT_SET"},
                                                       {"RUNPOD_POD_ID", "pod7"},
                                                       {"RUNPOD_PING_INTERVAL", "2500"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->get_job_url, "http://h/v2/e/job-take/$ID?gpu=a");
  EXPECT_EQ(c->ping_url, "");  // the SDK's "not set" placeholder
  EXPECT_EQ(c->worker_id, "pod7");
  EXPECT_EQ(c->ping_interval_ms, 2500);
}

TEST(WorkerUrls, TemplatesAndQueries) {
  // $RUNPOD_POD_ID is the worker, $ID the job (done/stream) or the worker (take/ping).
  EXPECT_EQ(fill_url("http://h/v2/e/job-done/$RUNPOD_POD_ID/$ID?gpu=x", "w1", "job-9"),
            "http://h/v2/e/job-done/w1/job-9?gpu=x");
  EXPECT_EQ(fill_url("http://h/v2/e/job-take/$ID?gpu=x", "w1", "w1"), "http://h/v2/e/job-take/w1?gpu=x");
  EXPECT_EQ(append_query("http://h/a?gpu=x", "isStream=true"), "http://h/a?gpu=x&isStream=true");
  EXPECT_EQ(append_query("http://h/a", "job_in_progress=0"), "http://h/a?job_in_progress=0");
  EXPECT_EQ(url_encode("a,b c/d"), "a%2Cb%20c%2Fd");
}

std::vector<int> batch_sizes(const BatchSizing& s, int items) {
  BatchCounter counter(s);
  std::vector<int> sizes;
  int n = 0;
  for (int i = 0; i < items; ++i) {
    ++n;
    if (counter.add()) {
      sizes.push_back(n);
      n = 0;
    }
  }
  if (n > 0) sizes.push_back(n);
  return sizes;
}

TEST(BatchCounter, ClassicGrowth) {
  EXPECT_EQ(batch_sizes({50, 1, 3}, 200), (std::vector<int>{1, 3, 9, 27, 50, 50, 50, 10}));
  // Not dynamic (growth 1, or min >= max): every batch holds max.
  EXPECT_EQ(batch_sizes({4, 1, 1}, 10), (std::vector<int>{4, 4, 2}));
  EXPECT_EQ(batch_sizes({4, 8, 2}, 10), (std::vector<int>{4, 4, 2}));
  // A fractional growth factor rounds up through the `count >= current` comparison, as the worker's does.
  EXPECT_EQ(batch_sizes({10, 1, 1.5}, 20), (std::vector<int>{1, 2, 3, 4, 6, 4}));
}

}  // namespace
}  // namespace podserve::worker

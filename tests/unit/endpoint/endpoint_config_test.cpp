// `podserve endpoint` settings (RunPod's names) and the scaler rules of RunPod's autoscaler (§6 of the spec).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "endpoint/endpoint_config.h"
#include "endpoint/worker_pool.h"

namespace podserve::endpoint {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EndpointConfig, DefaultsFollowRunPod) {
  auto c = parse_endpoint_config({}, env_of({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->workers_min, 0);
  EXPECT_EQ(c->workers_max, 3);
  EXPECT_EQ(c->idle_timeout_s, 5);
  EXPECT_EQ(c->scaler_type, ScalerType::kQueueDelay);
  EXPECT_EQ(c->scaler_value, 4);
  EXPECT_EQ(c->execution_timeout_ms, 600000);
  EXPECT_EQ(c->lease_timeout_ms, 30000);  // three 10 s pings
  EXPECT_EQ(c->db_path, "podserve-endpoint-local.db");
}

TEST(EndpointConfig, FlagsWinOverEnvironment) {
  std::vector<std::string> args = {"--workers-max", "2", "--scaler-type=REQUEST_COUNT", "--api-key", "k1"};
  auto c = parse_endpoint_config(args, env_of({{"WORKERS_MAX", "5"}, {"SCALER_VALUE", "1"},
                                               {"RUNPOD_API_KEY", "env-key"}, {"IDLE_TIMEOUT", "0.5"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->workers_max, 2);
  EXPECT_EQ(c->scaler_type, ScalerType::kRequestCount);
  EXPECT_EQ(c->scaler_value, 1);
  EXPECT_EQ(c->idle_timeout_s, 0.5);
  EXPECT_EQ(c->api_keys, std::vector<std::string>{"k1"});
}

TEST(EndpointConfig, BadValuesNameTheSetting) {
  auto bad_env = parse_endpoint_config({}, env_of({{"SCALER_TYPE", "FAST"}}));
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.status().message().find("SCALER_TYPE"), std::string::npos);
  std::vector<std::string> args = {"--workers-min", "4", "--workers-max", "2"};
  auto inverted = parse_endpoint_config(args, env_of({}));
  ASSERT_FALSE(inverted.ok());
  EXPECT_NE(inverted.status().message().find("--workers-min"), std::string::npos);
  std::vector<std::string> unknown = {"--nope", "1"};
  EXPECT_FALSE(parse_endpoint_config(unknown, env_of({})).ok());
  std::vector<std::string> missing = {"--port"};
  EXPECT_FALSE(parse_endpoint_config(missing, env_of({})).ok());
  std::vector<std::string> port = {"--port", "70000"};
  EXPECT_FALSE(parse_endpoint_config(port, env_of({})).ok());
}

EndpointConfig scaler(ScalerType type, double value, int min, int max) {
  EndpointConfig c;
  c.scaler_type = type;
  c.scaler_value = value;
  c.workers_min = min;
  c.workers_max = max;
  return c;
}

TEST(Scaler, RequestCountIsJobsPerWorkerWithinMinAndMax) {
  const EndpointConfig c = scaler(ScalerType::kRequestCount, 1, 0, 2);
  EXPECT_EQ(desired_workers(c, {.in_queue = 0, .in_progress = 0}), 0);
  EXPECT_EQ(desired_workers(c, {.in_queue = 1, .in_progress = 0}), 1);
  EXPECT_EQ(desired_workers(c, {.in_queue = 10, .in_progress = 2}), 2);
  const EndpointConfig four = scaler(ScalerType::kRequestCount, 4, 1, 10);
  EXPECT_EQ(desired_workers(four, {.in_queue = 0, .in_progress = 0}), 1);
  EXPECT_EQ(desired_workers(four, {.in_queue = 5, .in_progress = 4}), 3);  // ceil(9 / 4)
}

TEST(Scaler, QueueDelayAddsAWorkerWhenJobsWaitTooLong) {
  const EndpointConfig c = scaler(ScalerType::kQueueDelay, 4, 0, 3);
  EXPECT_EQ(desired_workers(c, {.in_queue = 1, .oldest_wait_s = 0, .workers = 0}), 1);  // from zero at once
  EXPECT_EQ(desired_workers(c, {.in_queue = 3, .oldest_wait_s = 2, .workers = 1}), 1);
  EXPECT_EQ(desired_workers(c, {.in_queue = 3, .oldest_wait_s = 5, .workers = 1}), 2);
  EXPECT_EQ(desired_workers(c, {.in_queue = 3, .oldest_wait_s = 5, .workers = 1, .starting = 1}), 1);
  EXPECT_EQ(desired_workers(c, {.in_queue = 3, .oldest_wait_s = 50, .workers = 3}), 3);  // max
  // Nothing waits: the busy workers stay, the idle one may go (after the idle timeout).
  EXPECT_EQ(desired_workers(c, {.in_queue = 0, .in_progress = 1, .workers = 2, .busy = 1}), 1);
  EXPECT_EQ(desired_workers(scaler(ScalerType::kQueueDelay, 4, 1, 3), {.workers = 2}), 1);  // min
}

}  // namespace
}  // namespace podserve::endpoint

#include "endpoint/worker_pool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace podserve::endpoint {
namespace {

/// A worker inherits no descriptor of the endpoint's but stdin/out/err: with the listening socket inherited, an
/// endpoint killed with -9 could not be restarted on its port while an orphaned worker lived (the soak's finding).
TEST(WorkerPool, WorkersInheritOnlyStdio) {
  const std::string dir = ::testing::TempDir() + "/worker_pool_fds_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string out = dir + "/fds.txt";
  // A descriptor the endpoint holds without O_CLOEXEC, as asio's sockets are, at a number no shell opens.
  const int leaked = fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 77);
  ASSERT_GE(leaked, 77);
  auto store = JobStore::open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EndpointConfig config;
  config.workers_min = 1;
  config.workers_max = 1;
  config.worker_command = "ls /proc/self/fd > '" + out + "'";  // run as `exec ls ...`: ls is the worker
  {
    WorkerPool pool(config, *store.value());
    pool.set_base_url("http://127.0.0.1:9/v2/test");
    pool.tick(0);
    for (int i = 0; i < 400 && !(std::filesystem::exists(out) && std::filesystem::file_size(out) > 0); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // ls writes its listing in one go; let it end
  }
  close(leaked);
  std::ifstream in(out);
  ASSERT_TRUE(in) << "the worker command did not run";
  std::set<int> fds;
  for (std::string line; std::getline(in, line);) fds.insert(std::stoi(line));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(fds.count(leaked), 0u);
  // 0-2, and the directory ls reads: nothing of the endpoint's.
  for (int fd : fds) EXPECT_LE(fd, 3) << "fd " << fd << " leaked into the worker";
}

}  // namespace
}  // namespace podserve::endpoint

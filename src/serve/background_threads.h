// Threads for blocking work that must not hold an HTTP thread (a LoRA adapter read from disk or downloaded from
// the Hub), owned so that the server joins them at shutdown: none may outlive the io_context it reports to, nor
// run into the process's exit.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace podserve {

class BackgroundThreads {
 public:
  BackgroundThreads() = default;
  BackgroundThreads(const BackgroundThreads&) = delete;
  BackgroundThreads& operator=(const BackgroundThreads&) = delete;
  ~BackgroundThreads() { join_all(); }

  /// Runs `work` on a thread of its own. False (and `work` never runs) once join_all has begun: the server is
  /// shutting down. Threads that have finished are joined here, so the list stays as long as the work in flight.
  bool spawn(std::function<void()> work);
  /// Refuses new work, then waits for every thread started so far (each ends when its work does: a Hub read is
  /// bounded by its stall timeout and retries). Idempotent.
  void join_all();
  /// Threads whose work has not finished yet.
  size_t running() const;

 private:
  struct Entry {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  mutable std::mutex mu_;
  bool closed_ = false;
  std::list<Entry> threads_;
};

}  // namespace podserve

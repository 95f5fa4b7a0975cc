// Download progress for a whole model: a one-line bar redrawn in place when stderr is a terminal, else a log
// line every few seconds (container logs). Thread-safe; the download threads report bytes as they arrive.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace podserve::hub {

class Progress {
 public:
  /// `label` names what is downloaded (the repo id). `interactive`: draw a bar (stderr is a TTY).
  Progress(std::string label, bool interactive);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add_total(uint64_t bytes);
  void advance(uint64_t bytes);
  /// Prints the final line (bar completed, or a summary log line).
  void finish();

  /// True when stderr is a terminal.
  static bool stderr_is_tty();

 private:
  void report_locked(bool final);

  std::string label_;
  bool interactive_;
  std::mutex mu_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_report_;
};

/// "1.5 GiB", "300.0 MiB", "12 B".
std::string human_bytes(uint64_t bytes);

}  // namespace podserve::hub

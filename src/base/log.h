// Leveled, timestamped logging to stderr: `PODSERVE_LOG(kInfo) << "loaded " << n << " tensors";`
// One line per message, written atomically so lines from different threads never interleave.
#pragma once

#include <sstream>
#include <string_view>

namespace podserve {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

/// Messages below this level are dropped. Set once at startup (from VLLM_LOGGING_LEVEL-style config).
void set_log_level(LogLevel level);
LogLevel log_level();
/// Parses "DEBUG", "INFO", "WARNING", "ERROR" (any case); returns false on anything else.
bool parse_log_level(std::string_view text, LogLevel* out);

namespace detail {
class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

/// Lets the ternary in PODSERVE_LOG have type void on both branches.
struct LogVoidify {
  void operator&(LogLine&) {}
  void operator&(LogLine&&) {}
};
}  // namespace detail
}  // namespace podserve

/// An expression, so it is safe after an unbraced `if`; the message is not built when the level is off.
#define PODSERVE_LOG(level)                                                              \
  (::podserve::LogLevel::level < ::podserve::log_level())                                \
      ? (void)0                                                                          \
      : ::podserve::detail::LogVoidify() &                                               \
            ::podserve::detail::LogLine(::podserve::LogLevel::level, __FILE__, __LINE__)

#include "hub/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/log.h"

namespace podserve::hub {
namespace {

constexpr auto kTtyInterval = std::chrono::milliseconds(200);
constexpr auto kLogInterval = std::chrono::seconds(5);
constexpr int kBarWidth = 30;

}  // namespace

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", v, units[unit]);
  return buf;
}

Progress::Progress(std::string label, bool interactive)
    : label_(std::move(label)), interactive_(interactive), start_(std::chrono::steady_clock::now()),
      last_report_(start_) {}

Progress::~Progress() { finish(); }

bool Progress::stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

void Progress::add_total(uint64_t bytes) {
  std::lock_guard lock(mu_);
  total_ += bytes;
}

void Progress::advance(uint64_t bytes) {
  std::lock_guard lock(mu_);
  done_ += bytes;
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::steady_clock::duration interval =
      interactive_ ? std::chrono::steady_clock::duration(kTtyInterval) : std::chrono::steady_clock::duration(kLogInterval);
  if (now - last_report_ >= interval) {
    last_report_ = now;
    report_locked(false);
  }
}

void Progress::finish() {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (done_ > 0) report_locked(true);
}

void Progress::report_locked(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0;
  const uint64_t shown = total_ > 0 ? std::min(done_, total_) : done_;
  const int percent = total_ > 0 ? static_cast<int>(100.0 * shown / total_) : 0;
  if (interactive_) {
    const int filled = total_ > 0 ? static_cast<int>(kBarWidth * shown / total_) : 0;
    std::string bar(filled, '#');
    bar.resize(kBarWidth, '-');
    std::fprintf(stderr, "\r%s [%s] %3d%% %s / %s  %s/s%s", label_.c_str(), bar.c_str(), percent,
                 human_bytes(shown).c_str(), human_bytes(total_).c_str(),
                 human_bytes(static_cast<uint64_t>(rate)).c_str(), final ? "\n" : "   ");
    std::fflush(stderr);
    return;
  }
  PODSERVE_LOG(kInfo) << (final ? "Downloaded " : "Downloading ") << label_ << ": " << human_bytes(shown) << " / "
                      << human_bytes(total_) << " (" << percent << "%), " << human_bytes(static_cast<uint64_t>(rate))
                      << "/s";
}

}  // namespace podserve::hub

// CHECK guards invariants (programmer errors) and is always on; DCHECK only in debug builds.
// Never use either on anything reachable from user input or file contents: return a Status instead.
#pragma once

#include <sstream>

namespace podserve::detail {

/// Collects the streamed message and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* expr);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

/// Lets `CHECK(x) << ...` compile to nothing when the condition holds.
struct Voidify {
  void operator&(CheckFailure&) {}
  void operator&(CheckFailure&&) {}
};

}  // namespace podserve::detail

#define PODSERVE_CHECK(cond) \
  (cond) ? (void)0           \
         : ::podserve::detail::Voidify() & ::podserve::detail::CheckFailure(__FILE__, __LINE__, #cond)

#ifdef NDEBUG
#define PODSERVE_DCHECK(cond) \
  true ? (void)0 : ::podserve::detail::Voidify() & ::podserve::detail::CheckFailure(__FILE__, __LINE__, #cond)
#else
#define PODSERVE_DCHECK(cond) PODSERVE_CHECK(cond)
#endif

// obs: lets a recurring log event through at most once per interval and
// counts the occurrences it held back. Header-only; depends on nothing.
//
// For failures that can repeat on every request (a cache server down): the
// metric counts each one, the log says it is happening without a line per
// request.
//
//   obs::LogThrottle throttle_{std::chrono::seconds(10)};
//   if (uint64_t skipped = 0; throttle_.Allow(skipped))
//     obs::LogWarn("cache_backend_error", {{"error", why}, {"suppressed", skipped}});
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace shopd::obs {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds interval) : interval_ms_(interval.count()) {}

  // True for the first occurrence and for the first one after each interval;
  // then `suppressed` is how many were refused since the last one allowed.
  // Thread-safe.
  bool Allow(uint64_t& suppressed) {
    using namespace std::chrono;
    return AllowAt(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count(), suppressed);
  }

  // The same at a given monotonic time, for tests.
  bool AllowAt(int64_t now_ms, uint64_t& suppressed) {
    int64_t next = next_ms_.load(std::memory_order_relaxed);
    if (now_ms < next || !next_ms_.compare_exchange_strong(next, now_ms + interval_ms_)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  const int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{std::numeric_limits<int64_t>::min()};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace shopd::obs

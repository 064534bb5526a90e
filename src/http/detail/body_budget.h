// http (internal): the bytes of request bodies buffered at once, across every
// connection of a server. A body that does not fit is refused before it is read.
#pragma once

#include <atomic>
#include <cstdint>

namespace shopd::http::detail {

class BodyBudget {
 public:
  explicit BodyBudget(int64_t limit) : limit_(limit) {}

  bool TryReserve(int64_t n) {
    int64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + n > limit_) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void Release(int64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  int64_t in_use() const { return used_.load(std::memory_order_relaxed); }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

}  // namespace shopd::http::detail

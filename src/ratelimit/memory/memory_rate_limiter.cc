#include "ratelimit/memory/memory_rate_limiter.h"

#include <algorithm>
#include <functional>

namespace shopd::ratelimit {

MemoryRateLimiter::MemoryRateLimiter(const core::Clock& clock, size_t max_keys)
    : clock_(clock), max_keys_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

boost::asio::awaitable<Decision> MemoryRateLimiter::Hit(std::string_view key, int limit, int64_t window_ms) {
  co_return Apply(key, limit, window_ms, true);
}

boost::asio::awaitable<Decision> MemoryRateLimiter::Peek(std::string_view key, int limit, int64_t window_ms) {
  co_return Apply(key, limit, window_ms, false);
}

Decision MemoryRateLimiter::Apply(std::string_view key, int limit, int64_t window_ms, bool count) {
  if (limit <= 0) return Decision{false, window_ms};
  const int64_t now = clock_.MonotonicMs();
  const int64_t interval = std::max<int64_t>(1, window_ms / limit);  // one event's share of the window
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.tat_ms.find(std::string(key));
  const int64_t tat = it == shard.tat_ms.end() ? now : std::max(it->second, now);
  const int64_t next_tat = tat + interval;
  // The bucket holds `limit` events: the event fits while next_tat stays within one window of now.
  if (next_tat - now > interval * limit) return Decision{false, next_tat - now - interval * limit};
  if (count) {
    if (it != shard.tat_ms.end()) {
      it->second = next_tat;
    } else {
      if (shard.tat_ms.size() >= max_keys_per_shard_) MakeRoom(shard, now);
      shard.tat_ms.emplace(std::string(key), next_tat);
    }
  }
  return Decision{true, 0};
}

void MemoryRateLimiter::MakeRoom(Shard& shard, int64_t now) {
  std::erase_if(shard.tat_ms, [now](const auto& kv) { return kv.second <= now; });
  if (shard.tat_ms.size() < max_keys_per_shard_) return;
  auto oldest = std::min_element(shard.tat_ms.begin(), shard.tat_ms.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
  shard.tat_ms.erase(oldest);
}

size_t MemoryRateLimiter::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.tat_ms.size();
  }
  return n;
}

}  // namespace shopd::ratelimit

#include "ratelimit/memory/memory_rate_limiter.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "ratelimit/stored_key.h"

namespace shopd::ratelimit {
namespace {

// One event's share of the window.
int64_t Interval(int limit, int64_t window_ms) { return std::max<int64_t>(1, window_ms / limit); }

}  // namespace

MemoryRateLimiter::MemoryRateLimiter(const core::Clock& clock, MemoryRateLimiterOptions options)
    : clock_(clock),
      max_keys_per_shard_(std::max<size_t>(1, options.max_keys / kShards)),
      max_bytes_per_shard_(std::max<size_t>(kMaxStoredKeyBytes + kEntryOverheadBytes, options.max_bytes / kShards)) {}

boost::asio::awaitable<Decision> MemoryRateLimiter::Hit(std::string_view key, int limit, int64_t window_ms) {
  co_return Apply(key, limit, window_ms, true);
}

boost::asio::awaitable<Decision> MemoryRateLimiter::Peek(std::string_view key, int limit, int64_t window_ms) {
  co_return Apply(key, limit, window_ms, false);
}

boost::asio::awaitable<void> MemoryRateLimiter::Refund(std::string_view key, int limit, int64_t window_ms) {
  Give(key, limit, window_ms);
  co_return;
}

Decision MemoryRateLimiter::Apply(std::string_view key, int limit, int64_t window_ms, bool count) {
  if (limit <= 0) return Decision{false, window_ms};
  const int64_t now = clock_.MonotonicMs();
  const int64_t interval = Interval(limit, window_ms);
  std::string stored = StoredKey(key);
  Shard& shard = ShardFor(stored);
  std::lock_guard lock(shard.mu);
  auto it = shard.tat_ms.find(stored);
  const int64_t tat = it == shard.tat_ms.end() ? now : std::max(it->second, now);
  const int64_t next_tat = tat + interval;
  // The bucket holds `limit` events: the event fits while next_tat stays within one window of now.
  if (next_tat - now > interval * limit) return Decision{false, next_tat - now - interval * limit};
  if (count) {
    if (it != shard.tat_ms.end()) {
      it->second = next_tat;
    } else {
      const size_t cost = stored.size() + kEntryOverheadBytes;
      MakeRoom(shard, now, cost);
      shard.tat_ms.emplace(std::move(stored), next_tat);
      shard.bytes += cost;
    }
  }
  return Decision{true, 0};
}

void MemoryRateLimiter::Give(std::string_view key, int limit, int64_t window_ms) {
  if (limit <= 0) return;
  const int64_t now = clock_.MonotonicMs();
  const int64_t interval = Interval(limit, window_ms);
  std::string stored = StoredKey(key);
  Shard& shard = ShardFor(stored);
  std::lock_guard lock(shard.mu);
  auto it = shard.tat_ms.find(stored);
  if (it == shard.tat_ms.end()) return;
  const int64_t tat = it->second - interval;
  // A TAT at or before now is a full bucket: the entry carries no information.
  if (tat <= now) {
    Erase(shard, it);
  } else {
    it->second = tat;
  }
}

void MemoryRateLimiter::Erase(Shard& shard, std::unordered_map<std::string, int64_t>::iterator it) {
  shard.bytes -= it->first.size() + kEntryOverheadBytes;
  shard.tat_ms.erase(it);
}

void MemoryRateLimiter::MakeRoom(Shard& shard, int64_t now, size_t needed_bytes) {
  auto fits = [&] {
    return shard.tat_ms.size() < max_keys_per_shard_ && shard.bytes + needed_bytes <= max_bytes_per_shard_;
  };
  if (fits()) return;
  for (auto it = shard.tat_ms.begin(); it != shard.tat_ms.end();) {
    auto next = std::next(it);
    if (it->second <= now) Erase(shard, it);
    it = next;
  }
  while (!fits() && !shard.tat_ms.empty()) {
    auto oldest = std::min_element(shard.tat_ms.begin(), shard.tat_ms.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    Erase(shard, oldest);
  }
}

size_t MemoryRateLimiter::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.tat_ms.size();
  }
  return n;
}

size_t MemoryRateLimiter::bytes() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.bytes;
  }
  return n;
}

}  // namespace shopd::ratelimit

// ratelimit: in-process GCRA limiter, sharded, bounded in keys and in bytes.
//
// Bounded so that an attacker cycling through keys (IPs, emails) cannot grow
// memory: keys longer than kMaxStoredKeyBytes are kept as a 32-byte digest,
// every entry is charged its key plus a fixed overhead against `max_bytes`,
// and a full shard first forgets keys whose bucket has refilled (they are
// indistinguishable from new keys), then the key closest to refilled.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

struct MemoryRateLimiterOptions {
  size_t max_keys = 200'000;
  size_t max_bytes = 32 * 1024 * 1024;  // keys + per-entry overhead
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  // What one entry costs besides its key (hash node, bucket slot, the TAT).
  static constexpr size_t kEntryOverheadBytes = 64;

  explicit MemoryRateLimiter(const core::Clock& clock, MemoryRateLimiterOptions options = {});

  // RateLimiter
  boost::asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<void> Refund(std::string_view key, int limit, int64_t window_ms) override;

  // The synchronous core, for callers that are not coroutines.
  Decision Apply(std::string_view key, int limit, int64_t window_ms, bool count);
  void Give(std::string_view key, int limit, int64_t window_ms);
  size_t size() const;
  // Bytes charged for the stored entries (keys + overhead).
  size_t bytes() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, int64_t> tat_ms;  // theoretical arrival time per key
    size_t bytes = 0;
  };
  Shard& ShardFor(const std::string& stored) { return shards_[std::hash<std::string>{}(stored) % kShards]; }
  void MakeRoom(Shard& shard, int64_t now, size_t needed_bytes);
  void Erase(Shard& shard, std::unordered_map<std::string, int64_t>::iterator it);

  const core::Clock& clock_;
  const size_t max_keys_per_shard_;
  const size_t max_bytes_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace shopd::ratelimit

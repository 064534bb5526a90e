// cache: in-process LRU cache with a TTL per entry, sharded, bounded in
// entries and in bytes. Depends on core and obs.
//
// Built for the cached product read: a hit takes one shard mutex for a hash
// lookup, an LRU relink and a reference-count increment, and copies the value
// into the returned string after the lock is released. It never leaves the
// caller's thread and allocates nothing but the returned string.
//
// Each shard holds max_entries/shards entries and max_bytes/shards bytes
// (key + value sizes, not bookkeeping); a Set that overflows either evicts the
// least recently used entries of that shard, and a value larger than a
// shard's byte budget is not stored at all. Expired entries count as misses
// and are removed when next looked up (or evicted). A write (Set/Delete)
// during a GetOrLoad for the same key keeps that load's (possibly older)
// result out of the cache; callers already waiting still get it.
//
//   MemoryCache products(core::SystemClock::Instance(),
//                        {.max_entries = 50'000, .max_bytes = 128 << 20}, &metrics, "products");
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache.h"
#include "core/clock.h"
#include "obs/metrics.h"

namespace shopd::cache {

struct MemoryCacheOptions {
  size_t max_entries = 100'000;
  size_t max_bytes = 64 << 20;
  // Rounded up to a power of two. One shard gives an exact global LRU (tests,
  // tiny caches); more shards spread lock contention across cores.
  size_t shards = 16;
  // Callers that may wait on one key's load; more fail fast with kUnavailable.
  size_t max_waiters_per_key = 4096;
};

class MemoryCache final : public Cache {
 public:
  // Exports shopd_cache_{hits,misses,evictions}_total and the
  // shopd_cache_{entries,bytes} gauges labelled cache=`name` when `metrics`
  // is given; the registry must outlive the cache.
  MemoryCache(const core::Clock& clock, MemoryCacheOptions options = {},
              obs::MetricsRegistry* metrics = nullptr, std::string name = "default");
  ~MemoryCache() override;
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  // Cache
  boost::asio::awaitable<std::optional<std::string>> Get(std::string key) override;
  boost::asio::awaitable<void> Set(std::string key, std::string value,
                                   std::chrono::milliseconds ttl) override;
  boost::asio::awaitable<void> Delete(std::string key) override;
  boost::asio::awaitable<core::Result<std::string>> GetOrLoad(std::string key,
                                                              std::chrono::milliseconds ttl,
                                                              Loader load) override;

  // The synchronous core, for callers that are not coroutines (and tests).
  std::optional<std::string> TryGet(std::string_view key);
  void Put(std::string key, std::string value, std::chrono::milliseconds ttl);
  void Erase(std::string_view key);

  // Stored entries and their key + value bytes, expired ones included until
  // they are removed.
  size_t size() const;
  size_t bytes() const;

 private:
  struct Shard;
  struct Flight;
  class FlightGuard;
  struct Delta;

  Shard& ShardFor(size_t hash) const;
  std::shared_ptr<const std::string> Find(std::string_view key, size_t hash);
  void Drop(std::string_view key, size_t hash);
  // The GetOrLoad waiter path: parks until the key's load finishes; nullopt
  // when it finished (or was invalidated) before we could join: look again.
  boost::asio::awaitable<std::optional<core::Result<std::string>>> JoinFlight(Shard& shard, std::string_view key,
                                                                              size_t hash);
  void FinishFlight(Shard& shard, std::string_view key, size_t hash, Flight& flight,
                    const core::Result<std::string>& result, std::chrono::milliseconds ttl);
  void Apply(const Delta& delta);

  const core::Clock& clock_;
  const MemoryCacheOptions options_;
  const size_t shard_mask_;
  const size_t max_entries_per_shard_;
  const size_t max_bytes_per_shard_;
  std::unique_ptr<Shard[]> shards_;

  // Point into `metrics` when given, else at the own_* fallbacks.
  obs::Counter own_hits_, own_misses_, own_evictions_;
  obs::Gauge own_entries_, own_bytes_;
  obs::Counter* hits_;
  obs::Counter* misses_;
  obs::Counter* evictions_;
  obs::Gauge* entries_;
  obs::Gauge* bytes_;
};

}  // namespace shopd::cache

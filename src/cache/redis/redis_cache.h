// cache/redis: the Cache on Redis, shared by every replica. Depends on cache,
// redis and obs.
//
// Layout: the value of `key` is `<prefix>cache:<key>` (SET PX), and a load in
// progress holds `<prefix>lease:<key>` (a random token, SET NX PX). The lease
// is the stampede guard across processes and the stale-set guard at once
// (memcache's leases, NSDI 2013 §3.2.1):
//   - GetOrLoad on a miss takes the lease, loads, and stores the value only
//     if it still holds the lease; callers elsewhere that find the lease
//     taken re-read every few ms for up to lease_wait, then load themselves
//     (and store nothing, since the lease is not theirs). So a cold key costs
//     one load across all replicas when the load is faster than lease_wait,
//     and at most one per replica otherwise.
//   - Set and Delete remove the lease too, so a load that read the database
//     before the write cannot store its older result after it.
// Callers in one process share one lookup and one load per key (single flight).
//
// Redis down or slow (RedisClient's deadline): Get is a miss, GetOrLoad runs
// the loader and stores nothing, Set and Delete are dropped. Nothing throws;
// each such fallback counts in shopd_cache_backend_errors_total{cache,op} and
// a warning is logged at most once per error_log_interval. A dropped Delete
// leaves the old value until its TTL: a writer that needs the invalidation to
// hold must retry it (e.g. from the outbox).
//
//   RedisCache products(*redis_client, {.key_prefix = "shopd:"}, &metrics, "products");
//   auto body = co_await products.GetOrLoad("product:7", 30s, load);
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache.h"
#include "cache/detail/single_flight.h"
#include "obs/log_throttle.h"
#include "obs/metrics.h"
#include "redis/fwd.h"

namespace shopd::cache {

struct RedisCacheOptions {
  std::string key_prefix = "shopd:";
  // The longest a load may hold a key's lease (its TTL in Redis), so a
  // replica that dies mid-load blocks nobody for longer.
  std::chrono::milliseconds lease_ttl{3'000};
  // How long a caller that found the lease taken waits for that load.
  std::chrono::milliseconds lease_wait{500};
  // Its re-reads start this far apart and double up to lease_poll_max.
  std::chrono::milliseconds lease_poll_min{5};
  std::chrono::milliseconds lease_poll_max{50};
  // Larger values are not stored (and the old value is dropped).
  size_t max_value_bytes = 4 << 20;
  // In-process callers that may wait on one key's load; more fail fast.
  size_t max_waiters_per_key = 4096;
  std::chrono::milliseconds error_log_interval{10'000};
};

class RedisCache final : public Cache {
 public:
  // `client` (and `metrics`, when given) must outlive the cache. Exports
  // shopd_cache_{hits,misses}_total (per Redis lookup), _backend_errors_total
  // and _lease_wait_timeouts_total, labelled cache=`name`.
  RedisCache(redis::RedisClient& client, RedisCacheOptions options = {}, obs::MetricsRegistry* metrics = nullptr,
             std::string name = "default");
  RedisCache(const RedisCache&) = delete;
  RedisCache& operator=(const RedisCache&) = delete;

  // Cache
  boost::asio::awaitable<std::optional<std::string>> Get(std::string key) override;
  boost::asio::awaitable<void> Set(std::string key, std::string value, std::chrono::milliseconds ttl) override;
  boost::asio::awaitable<void> Delete(std::string key) override;
  boost::asio::awaitable<core::Result<std::string>> GetOrLoad(std::string key, std::chrono::milliseconds ttl,
                                                              Loader load) override;

  // Where `key`'s value and its lease live in Redis (for tools and tests).
  std::string ValueKey(std::string_view key) const;
  std::string LeaseKey(std::string_view key) const;

 private:
  class LeaseGuard;
  enum class Op { kGet, kSet, kDelete, kLoad };

  // The cross-process part of GetOrLoad, run by this process's one caller per key.
  boost::asio::awaitable<core::Result<std::string>> LoadShared(std::string key, std::chrono::milliseconds ttl,
                                                               Loader load);
  void BackendError(Op op, const std::string& detail);

  redis::RedisClient& client_;
  const RedisCacheOptions options_;
  const std::string name_;
  detail::SingleFlight flights_;
  obs::LogThrottle error_log_;

  // Point into `metrics` when given, else at the own_* fallbacks.
  obs::Counter own_hits_, own_misses_, own_lease_timeouts_;
  obs::Counter own_errors_[4];
  obs::Counter* hits_;
  obs::Counter* misses_;
  obs::Counter* lease_timeouts_;
  obs::Counter* errors_[4];
};

}  // namespace shopd::cache

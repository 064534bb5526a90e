#include "app/cache_and_limits.h"

#include <optional>
#include <utility>

#include "cache/memory/memory_cache.h"
#include "cache/redis/redis_cache.h"
#include "exec/io_thread.h"
#include "ratelimit/fallback_rate_limiter.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "ratelimit/redis/redis_rate_limiter.h"
#include "redis/redis_client.h"

namespace shopd::app {
namespace {

cache::MemoryCacheOptions ProductCacheOptions(const Settings& s) {
  return cache::MemoryCacheOptions{.max_entries = static_cast<size_t>(s.catalog.cache_max_entries),
                                   .max_bytes = static_cast<size_t>(s.catalog.cache_max_bytes)};
}

class InProcess final : public CacheAndLimits {
 public:
  InProcess(const Settings& s, const core::Clock& clock, obs::MetricsRegistry& metrics)
      : products_(clock, ProductCacheOptions(s), &metrics, "products"), auth_(clock), orders_(clock) {}
  cache::Cache& product_cache() override { return products_; }
  ratelimit::RateLimiter& auth_limiter() override { return auth_; }
  ratelimit::RateLimiter& order_limiter() override { return orders_; }
  std::string Describe() const override { return "in-process"; }

 private:
  cache::MemoryCache products_;
  ratelimit::MemoryRateLimiter auth_;
  ratelimit::MemoryRateLimiter orders_;
};

// Members are built in dependency order and destroyed in reverse: the
// client's socket runs on `io_`, which goes last.
class OnRedis final : public CacheAndLimits {
 public:
  OnRedis(std::unique_ptr<redis::RedisClient> client, std::unique_ptr<exec::IoThread> io, const core::Clock& clock,
          obs::MetricsRegistry& metrics)
      : io_(std::move(io)),
        client_(std::move(client)),
        products_(*client_, cache::RedisCacheOptions{}, &metrics, "products"),
        shared_limits_(*client_),
        auth_local_(clock),
        orders_local_(clock),
        auth_(shared_limits_, auth_local_, &metrics, "auth"),
        orders_(shared_limits_, orders_local_, &metrics, "orders") {}
  cache::Cache& product_cache() override { return products_; }
  ratelimit::RateLimiter& auth_limiter() override { return auth_; }
  ratelimit::RateLimiter& order_limiter() override { return orders_; }
  std::string Describe() const override {
    return "redis " + client_->endpoint().host + ":" + std::to_string(client_->endpoint().port);
  }

 private:
  std::unique_ptr<exec::IoThread> io_;
  std::unique_ptr<redis::RedisClient> client_;
  cache::RedisCache products_;
  ratelimit::RedisRateLimiter shared_limits_;
  ratelimit::MemoryRateLimiter auth_local_;
  ratelimit::MemoryRateLimiter orders_local_;
  ratelimit::FallbackRateLimiter auth_;
  ratelimit::FallbackRateLimiter orders_;
};

}  // namespace

core::Result<std::unique_ptr<CacheAndLimits>> CacheAndLimits::Open(const Settings& s, const core::Clock& clock,
                                                                   obs::MetricsRegistry& metrics) {
  if (!s.redis.enabled()) return std::unique_ptr<CacheAndLimits>(new InProcess(s, clock, metrics));
  auto io = std::make_unique<exec::IoThread>("shopd-redis");
  auto client = redis::RedisClient::Create(io->executor(), s.redis.client);
  if (!client) return client.error();
  return std::unique_ptr<CacheAndLimits>(new OnRedis(std::move(*client), std::move(io), clock, metrics));
}

}  // namespace shopd::app

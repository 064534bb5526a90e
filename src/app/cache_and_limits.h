// app: the product cache and the rate limiters of one process — in-process
// (the embedded default), or shared by every replica through Redis
// (--redis-url / SHOPD_REDIS_URL) with the in-process limiters as the
// fallback while Redis is down or slow (ratelimit/fallback_rate_limiter.h;
// cache reads then fall through to the database). Depends on cache,
// ratelimit and redis.
//
//   auto shared = CacheAndLimits::Open(settings, clock, metrics);
//   services::CatalogService catalog(store, (*shared)->product_cache(), ...);
#pragma once

#include <memory>
#include <string>

#include "app/settings.h"
#include "cache/cache.h"
#include "core/clock.h"
#include "core/error.h"
#include "obs/fwd.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::app {

class CacheAndLimits {
 public:
  // kInvalidArgument for unusable Redis settings; Redis being unreachable is
  // not an error (the fallbacks answer, and the client keeps reconnecting).
  static core::Result<std::unique_ptr<CacheAndLimits>> Open(const Settings& settings, const core::Clock& clock,
                                                            obs::MetricsRegistry& metrics);
  virtual ~CacheAndLimits() = default;

  virtual cache::Cache& product_cache() = 0;
  // Logins, registrations, refreshes.
  virtual ratelimit::RateLimiter& auth_limiter() = 0;
  // Its own limiter: order keys never compete with login keys for room.
  virtual ratelimit::RateLimiter& order_limiter() = 0;
  // For the start-up log line (no secrets).
  virtual std::string Describe() const = 0;
};

}  // namespace shopd::app

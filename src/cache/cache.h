// cache: the key-value cache interface (cache-aside reads, invalidation on
// write). Depends on core.
//
// Values are opaque strings (usually a rendered JSON body) with a TTL per
// entry. Embedded: memory/ (an in-process LRU per process); scale-out: a Redis
// implementation shares the entries between replicas. Every operation is a
// coroutine so that both look the same to a service.
//
// GetOrLoad is the read path services use: it answers from the cache, and on a
// miss runs `load` once per key however many callers miss at the same time
// (a stampede guard), so a hot key that expires costs one database read, not
// one per request. A loader error reaches every waiting caller and is not
// cached. A write invalidates with Delete after it commits.
//
//   core::Result<std::string> body = co_await cache.GetOrLoad(
//       "product:" + id, std::chrono::seconds(30),
//       [&]() -> boost::asio::awaitable<core::Result<std::string>> {
//         co_return co_await catalog.RenderProduct(id);
//       });
//   ...
//   co_await store.UpdateProduct(p);
//   co_await cache.Delete("product:" + p.id);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/error.h"

namespace shopd::cache {

// Produces the value for a missing key. It runs on the coroutine of the caller
// that missed first; it must not call GetOrLoad for the same key.
using Loader = std::function<boost::asio::awaitable<core::Result<std::string>>()>;

// Keys are taken by value: GCC 12 miscompiles coroutines whose reference
// parameters bind to temporaries.
class Cache {
 public:
  virtual ~Cache() = default;

  // The value, or nullopt when the key is absent or its TTL has passed.
  virtual boost::asio::awaitable<std::optional<std::string>> Get(std::string key) = 0;
  // Stores `value` for `ttl`, replacing any previous value. A backend may
  // decline to store (a non-positive ttl, a value over its size limit); the
  // previous value is gone either way.
  virtual boost::asio::awaitable<void> Set(std::string key, std::string value,
                                           std::chrono::milliseconds ttl) = 0;
  // Removes the key; removing an absent key is not an error.
  virtual boost::asio::awaitable<void> Delete(std::string key) = 0;
  // Cache-aside with a stampede guard: on a miss, exactly one caller per key
  // runs `load`; concurrent callers for the same key wait for that result (and
  // resume on their own executors) instead of loading too. A successful result
  // is stored for `ttl`; a loader error is returned to all waiters and NOT
  // cached.
  virtual boost::asio::awaitable<core::Result<std::string>> GetOrLoad(std::string key,
                                                                      std::chrono::milliseconds ttl,
                                                                      Loader load) = 0;
};

}  // namespace shopd::cache

// redis: where a Redis server is and how to log in to it, parsed from a
// `redis://` URL. Depends on core.
//
//   redis://127.0.0.1:6379              db 0, no AUTH
//   redis://:s3cret@cache.internal/2    AUTH s3cret, SELECT 2 (port 6379)
//   redis://app:s3cret@[::1]:6380/0     AUTH app s3cret (a Redis 6 ACL user)
//
// The user and password may be percent-encoded. There is no TLS (hiredis
// 0.14 has none), so `rediss://` is refused rather than silently downgraded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shopd::redis {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string username;  // empty: the default user
  std::string password;  // empty: no AUTH
  int64_t db = 0;

  // "host:port/db", without credentials, for logs and error texts.
  std::string Describe() const;
};

// kInvalidArgument, naming the part that is wrong (never echoing a password).
core::Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

}  // namespace shopd::redis

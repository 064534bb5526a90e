// redis: the Redis client's settings, declared and validated here. Depends
// on config and core.
//
// redis-url is empty by default: no Redis (the embedded topology). It is
// read from the environment only (SHOPD_REDIS_URL), since it may carry a
// password.
//
//   RedisConfig::Declare(src);
//   auto cfg = RedisConfig::Load(src);
//   if (cfg && cfg->enabled()) client = RedisClient::Create(ex, cfg->client);
#pragma once

#include "config/config_source.h"
#include "core/error.h"
#include "redis/redis_client.h"

namespace shopd::redis {

struct RedisConfig {
  RedisClientOptions client;  // client.url empty: Redis is not used

  bool enabled() const { return !client.url.empty(); }

  static void Declare(config::ConfigSource& src);
  static core::Result<RedisConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::redis

#include "redis/redis_config.h"

#include <chrono>

namespace shopd::redis {

void RedisConfig::Declare(config::ConfigSource& src) {
  src.Declare({"redis-url", "",
               "redis://[[user]:password@]host[:port][/db] of the Redis shared by the replicas (cache, rate "
               "limits); empty: none",
               /*secret=*/true});
  src.Declare({"redis-connect-timeout-ms", "200", "deadline for connecting to Redis (TCP, AUTH, SELECT)"});
  src.Declare({"redis-command-timeout-ms", "100",
               "deadline for each Redis command; past it the command fails and the connection is remade"});
  src.Declare({"redis-max-in-flight", "4096", "Redis commands queued or awaiting replies at once; more fail at once"});
}

core::Result<RedisConfig> RedisConfig::Load(const config::ConfigSource& src) {
  RedisConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetString("redis-url"), c.client.url);
  if (c.enabled()) {
    if (auto e = ParseRedisUrl(c.client.url); !e) errs.Add("redis-url: " + e.error().message);
  }
  errs.Take(src.GetInt("redis-connect-timeout-ms", 1, 60'000), v);
  c.client.connect_timeout = std::chrono::milliseconds(v);
  errs.Take(src.GetInt("redis-command-timeout-ms", 1, 60'000), v);
  c.client.command_timeout = std::chrono::milliseconds(v);
  errs.Take(src.GetInt("redis-max-in-flight", 1, 1'000'000), v);
  c.client.max_in_flight = static_cast<size_t>(v);
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::redis

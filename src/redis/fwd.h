// redis: forward declarations, so headers that only pass these around stay light.
#pragma once

namespace shopd::redis {
struct RedisEndpoint;
struct RedisReply;
struct RedisClientOptions;
class RedisClient;
class RedisScript;
}  // namespace shopd::redis

// redis: a Lua script run by its SHA-1 (EVALSHA), loaded on demand. Depends
// on core and RedisClient.
//
// The digest is computed here, so the usual call is one EVALSHA round trip.
// Redis empties its script cache on restart and failover; a NOSCRIPT answer
// loads the script (SCRIPT LOAD) and runs it once more.
//
//   static const RedisScript kGetOrLease(R"(...lua...)");
//   core::Result<RedisReply> r = co_await kGetOrLease.Run(client, {key, lease_key}, {token, "3000"});
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "redis/fwd.h"
#include "redis/redis_reply.h"

namespace shopd::redis {

class RedisScript {
 public:
  explicit RedisScript(std::string source);

  // The script's reply (an error reply when the script raised one), or the
  // client's kUnavailable failure.
  boost::asio::awaitable<core::Result<RedisReply>> Run(RedisClient& client, std::vector<std::string> keys,
                                                       std::vector<std::string> args) const;

  const std::string& sha1() const { return sha1_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex, as Redis names scripts
};

}  // namespace shopd::redis

// redis: the RESP2 wire format: commands encoded and replies decoded by
// hiredis (0.14, Debian 12), which stays inside resp.cc. Depends on core.
//
// ReplyReader takes the bytes of a connection as they arrive and hands out
// complete replies in order; a stream that is not RESP is a sticky error,
// after which the connection must be dropped.
//
//   std::string wire;
//   AppendCommand(wire, {"SET", key, value, "PX", "1000"});
//   reader.Feed(buf, n);
//   while (auto r = reader.Next(); r && *r) Deliver(std::move(**r));
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "redis/redis_reply.h"

struct redisReader;

namespace shopd::redis {

// Appends one command (binary-safe arguments) in RESP to `out`.
void AppendCommand(std::string& out, const std::vector<std::string>& args);

class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  void Feed(const char* data, size_t size);
  // The next complete reply; nullopt while more bytes are needed; kInternal
  // once the stream is not valid RESP (or nests deeper than hiredis parses).
  core::Result<std::optional<RedisReply>> Next();

 private:
  redisReader* reader_;
  bool failed_ = false;
};

}  // namespace shopd::redis

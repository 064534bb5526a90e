// redis: one RESP2 reply as a plain value, so no hiredis type leaves
// resp.cc. Depends on nothing.
//
// An error reply (`-ERR ...`) is a normal reply of type kError: the command
// reached the server and was refused. Failures to reach the server are
// core::Error values returned by RedisClient instead.
//
//   if (reply.type == RedisReply::Type::kString) use(reply.str);
//   if (reply.IsError() && reply.str.starts_with("NOSCRIPT")) ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shopd::redis {

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };

  Type type = Type::kNil;
  std::string str;                   // kString, kStatus, kError
  int64_t integer = 0;               // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool IsNil() const { return type == Type::kNil; }
  bool IsError() const { return type == Type::kError; }
  // A bulk or status string (what GET, SET and PING answer).
  bool IsString() const { return type == Type::kString || type == Type::kStatus; }
  // A short rendering for logs and test failures, e.g. `(error) ERR unknown command`.
  std::string Describe() const;
};

}  // namespace shopd::redis

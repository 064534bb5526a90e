// redis: an asynchronous Redis client on one pipelined TCP connection.
// Depends on core and obs; hiredis (for RESP only) and the socket stay in the
// .cc files.
//
// Any number of coroutines, on any executors, may issue commands at once:
// they are written back to back on the one connection and their replies are
// matched first in, first out. The connection runs on a strand of the
// executor given to Create, and each caller resumes on its own executor.
//
// Every command has a deadline (command_timeout). A command that misses it
// fails with kUnavailable, and so does the connection it was sent on: its
// other commands fail too (their outcome is unknown) and a fresh connection
// is made after a backoff. A failed connection is never reused. While there
// is no connection, commands fail at once instead of waiting for one; only
// during a connection attempt do they wait (up to their deadline). At most
// max_in_flight commands are queued or awaiting replies; more fail at once.
//
// The client connects when it is created and reconnects on its own, with
// exponential backoff and jitter; the URL's password and database are sent
// (AUTH, SELECT) before any command.
//
//   auto client = RedisClient::Create(io.get_executor(), {.url = "redis://:pw@10.0.0.5:6379/1"});
//   if (!client) return client.error();              // a bad URL
//   core::Result<RedisReply> r = co_await (*client)->Command({"GET", "product:7"});
//   if (!r) ...                                      // unreachable, slow, overloaded
//   else if (r->IsNil()) ...                          // a miss
//
// A Redis error reply (-ERR ...) is a reply (RedisReply::Type::kError), not a
// failure. No pub/sub or blocking commands (BLPOP, SUBSCRIBE): they would
// hold the shared connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "redis/redis_reply.h"
#include "redis/redis_url.h"

namespace shopd::redis {

struct RedisClientOptions {
  std::string url = "redis://127.0.0.1:6379";
  // TCP connect plus AUTH/SELECT/PING.
  std::chrono::milliseconds connect_timeout{200};
  // From the call until the reply; the same for every command, so that
  // deadlines are in the order the commands were sent.
  std::chrono::milliseconds command_timeout{100};
  size_t max_in_flight = 4096;
  // The wait before reconnecting doubles from min to max after each failed
  // attempt (randomized by up to half, so replicas do not reconnect in step)
  // and drops back to min once connected.
  std::chrono::milliseconds reconnect_min_delay{25};
  std::chrono::milliseconds reconnect_max_delay{1000};
};

class RedisClient {
 public:
  // kInvalidArgument for a bad URL or option. The connection is opened in the
  // background on a strand of `executor`, whose context must run while the
  // client is used.
  static core::Result<std::unique_ptr<RedisClient>> Create(boost::asio::any_io_executor executor,
                                                           RedisClientOptions options);
  // Commands still outstanding fail with kUnavailable; the connection closes.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command with binary-safe arguments, e.g. {"SET", key, value, "PX", "500"}.
  // Failures are kUnavailable, with the reason in `internal`.
  boost::asio::awaitable<core::Result<RedisReply>> Command(std::vector<std::string> args);
  // The same without waiting for (or learning) the outcome: dropped while
  // there is no connection. Ordered with the commands issued after it.
  void Send(std::vector<std::string> args);

  const RedisEndpoint& endpoint() const;
  const RedisClientOptions& options() const;
  // Whether a connection is up right now (a snapshot, from any thread).
  bool connected() const;
  // Connections established so far (reconnects show as more than one).
  uint64_t connects() const;

 private:
  struct Impl;
  explicit RedisClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace shopd::redis

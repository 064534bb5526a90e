// redis/testing: a throwaway redis-server for tests, for test targets only.
// Depends on redis (RESP, for the blocking helper) and Debian's redis-server
// binary; never on a system Redis service.
//
// The server is this process's child, in a fresh temp dir under $TMPDIR, on a
// free 127.0.0.1 port, with persistence off (`--save "" --appendonly no`).
// Tests that only need a Redis share one per process and keep apart by key
// prefix; tests that stop, pause or restart the server start their own:
//
//   auto* shared = RedisTestServer::Shared();
//   if (shared == nullptr) GTEST_SKIP() << RedisTestServer::MissingReason();
//   if (auto why = RedisTestServer::SkipReason(); !why.empty()) GTEST_SKIP() << why;
//   RedisTestServer own;                          // throws if it cannot start
//   auto client = RedisClient::Create(ex, {.url = own.Url()});
//   own.Pause();  ...  own.Resume();              // SIGSTOP / SIGCONT its PID
//   own.Stop();   ...  own.Start();               // down, then back on the same port
//
// The server dies with the thread that started it (PR_SET_PDEATHSIG), so a
// test killed halfway through leaves no server behind; start servers from
// the test's main thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "redis/redis_reply.h"

namespace shopd::redis::testing {

struct RedisTestServerOptions {
  std::string password;  // non-empty: --requirepass
};

class RedisTestServer {
 public:
  // Throws std::runtime_error (with the tail of the server log) if
  // redis-server is missing or does not answer PING within 10 s.
  explicit RedisTestServer(RedisTestServerOptions options = {});
  // Stops the server by its PID (SIGTERM, SIGKILL after 5 s), removes the
  // temp dir. Never throws.
  ~RedisTestServer();
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // redis://[:password@]127.0.0.1:<port>/<db>
  std::string Url(int db = 0) const;

  void Pause();   // SIGSTOP: connections stay open, nothing is answered
  void Resume();  // SIGCONT
  // Stops the server (the data goes with it); the port stays reserved for Start.
  void Stop();
  // Starts it again on the same port; throws like the constructor.
  void Start();
  bool running() const { return pid_ > 0; }

  // One command on a fresh blocking connection (AUTH included), for test
  // setup and inspection, e.g. Command({"PTTL", "shopd:k"}). Throws
  // std::runtime_error when the server cannot be reached within 5 s.
  RedisReply Command(std::vector<std::string> args, int db = 0) const;

  // One server per test process, started on first use. nullptr when
  // redis-server is not installed, so a test can GTEST_SKIP() with
  // MissingReason(); SHOPD_REQUIRE_REDIS=1 in the environment makes that an
  // exception instead. An installed server that fails to start always throws.
  static RedisTestServer* Shared();
  // Why Shared() is nullptr ("" when redis-server is installed).
  static std::string MissingReason();
  // For tests that start their own server: MissingReason(), except that
  // with SHOPD_REQUIRE_REDIS=1 a missing redis-server throws instead.
  static std::string SkipReason();

 private:
  void Launch(bool same_port);
  void Kill() noexcept;

  const RedisTestServerOptions options_;
  pid_t owner_pid_ = -1;  // a fork()ed copy (a death test) must not stop the server
  std::string binary_;
  std::string temp_dir_;
  std::string log_file_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace shopd::redis::testing

// The client against a real redis-server that each test starts for itself
// (stopping, pausing or restarting it must not disturb other tests).
#include "redis/redis_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/testing/async_test_util.h"
#include "redis/testing/redis_test_server.h"

namespace shopd::redis {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::RedisTestServer;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

std::string Text(const core::Result<RedisReply>& r) {
  return r ? r->Describe() : "<failed: " + r.error().internal + ">";
}

// Coroutines spawned below are plain functions, never capturing lambdas
// (GCC 12 destroys a spawned lambda coroutine's captures twice).
asio::awaitable<void> EchoInto(RedisClient& client, std::string payload, std::optional<core::Result<RedisReply>>& out) {
  std::vector<std::string> args{"ECHO", std::move(payload)};
  out = co_await client.Command(std::move(args));
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RedisTestServer::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    server_ = std::make_unique<RedisTestServer>();
  }

  // Deadlines far above any round trip, for the tests that are not about
  // deadlines: a loaded machine (sanitizers, parallel tests) must not fail them.
  static RedisClientOptions Relaxed() {
    return {.connect_timeout = milliseconds(2'000), .command_timeout = milliseconds(2'000)};
  }

  std::unique_ptr<RedisClient> Connect(RedisClientOptions options = Relaxed()) {
    if (options.url == RedisClientOptions{}.url) options.url = server_->Url();
    auto client = RedisClient::Create(client_io_.io().get_executor(), options);
    EXPECT_TRUE(client) << client.error().message;
    return client ? std::move(*client) : nullptr;
  }

  core::Result<RedisReply> Call(RedisClient& client, std::vector<std::string> args) {
    return shopd::testing::AwaitOn(io_, client.Command(std::move(args)));
  }

  // Retries a PING until it succeeds, for at most `timeout`.
  bool EventuallyUp(RedisClient& client, milliseconds timeout = milliseconds(10'000)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto r = Call(client, {"PING"});
      if (r && r->str == "PONG") return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  // The client's connection runs on its own thread; callers use io_ on the
  // test's thread, so every call crosses threads as in the server.
  shopd::testing::IoThread client_io_;
  asio::io_context io_;
  std::unique_ptr<RedisTestServer> server_;
};

TEST_F(RedisClientTest, RoundTripsBinarySafeValues) {
  auto client = Connect();
  const std::string value = std::string("a\0b\r\nc", 6) + std::string(1 << 20, 'x');
  auto set = Call(*client, {"SET", "k", value});
  ASSERT_TRUE(set) << Text(set);
  EXPECT_EQ(set->str, "OK");
  auto get = Call(*client, {"GET", "k"});
  ASSERT_TRUE(get) << Text(get);
  EXPECT_EQ(get->type, RedisReply::Type::kString);
  EXPECT_EQ(get->str, value);
  auto missing = Call(*client, {"GET", "absent"});
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->IsNil());
  auto incr = Call(*client, {"INCRBY", "n", "41"});
  ASSERT_TRUE(incr);
  EXPECT_EQ(incr->integer, 41);
  EXPECT_TRUE(client->connected());
  EXPECT_EQ(client->connects(), 1u);
}

TEST_F(RedisClientTest, ErrorReplyIsAReplyAndTheConnectionStaysUp) {
  auto client = Connect();
  auto bad = Call(*client, {"NOSUCHCOMMAND", "x"});
  ASSERT_TRUE(bad) << Text(bad);
  EXPECT_TRUE(bad->IsError());
  EXPECT_NE(bad->str.find("unknown command"), std::string::npos) << bad->str;
  auto ok = Call(*client, {"PING"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->str, "PONG");
  EXPECT_EQ(client->connects(), 1u);
}

TEST_F(RedisClientTest, PipelinesManyConcurrentCommandsFromTwoThreads) {
  auto client = Connect();
  constexpr int kCommands = 2'000;
  std::vector<std::optional<core::Result<RedisReply>>> results(kCommands);
  asio::io_context io_a;
  asio::io_context io_b;
  for (int i = 0; i < kCommands; ++i) {
    // Payloads of different sizes, so replies split across reads differently.
    std::string payload = "cmd-" + std::to_string(i) + ":" + std::string(i % 97, 'p');
    asio::co_spawn(i % 2 == 0 ? io_a : io_b, EchoInto(*client, std::move(payload), results[i]), asio::detached);
  }
  std::thread other([&] { io_b.run(); });
  io_a.run();
  other.join();
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(*results[i]) << i << ": " << Text(*results[i]);
    EXPECT_EQ((*results[i])->str, "cmd-" + std::to_string(i) + ":" + std::string(i % 97, 'p')) << i;
  }
  EXPECT_EQ(client->connects(), 1u);  // one connection carried them all
}

TEST_F(RedisClientTest, DeadlineWhenTheServerIsPausedThenFailsFastThenRecovers) {
  auto client = Connect({.connect_timeout = milliseconds(200),
                         .command_timeout = milliseconds(100),
                         .reconnect_min_delay = milliseconds(500),
                         .reconnect_max_delay = milliseconds(500)});
  ASSERT_TRUE(EventuallyUp(*client));
  server_->Pause();

  auto start = Clock::now();
  auto stalled = Call(*client, {"GET", "k"});
  const int64_t stalled_ms = MsSince(start);
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code, core::Errc::kUnavailable);
  EXPECT_NE(stalled.error().internal.find("no reply within 100 ms"), std::string::npos) << stalled.error().internal;
  EXPECT_GE(stalled_ms, 90);
  EXPECT_LT(stalled_ms, 2'000);
  EXPECT_FALSE(client->connected());

  // During the backoff nothing waits: the answer is immediate and says why.
  start = Clock::now();
  auto during = Call(*client, {"GET", "k"});
  ASSERT_FALSE(during);
  EXPECT_LT(MsSince(start), 80);  // well under the 100 ms deadline
  EXPECT_NE(during.error().internal.find("is unavailable"), std::string::npos) << during.error().internal;
  EXPECT_NE(during.error().internal.find("reconnecting in"), std::string::npos) << during.error().internal;

  server_->Resume();
  EXPECT_TRUE(EventuallyUp(*client));
  EXPECT_TRUE(client->connected());
  EXPECT_GE(client->connects(), 2u);
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerRestartsOnTheSamePort) {
  auto client = Connect({.connect_timeout = milliseconds(2'000),
                         .command_timeout = milliseconds(2'000),
                         .reconnect_min_delay = milliseconds(10),
                         .reconnect_max_delay = milliseconds(100)});
  ASSERT_TRUE(Call(*client, {"SET", "k", "v"}));
  server_->Stop();

  const auto start = Clock::now();
  auto down = Call(*client, {"GET", "k"});
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, core::Errc::kUnavailable);
  EXPECT_LT(MsSince(start), 1'000);  // the closed socket is noticed, not waited out

  server_->Start();
  ASSERT_TRUE(EventuallyUp(*client));
  auto after = Call(*client, {"GET", "k"});
  ASSERT_TRUE(after) << Text(after);
  EXPECT_TRUE(after->IsNil());  // a new server: nothing persisted
  EXPECT_GE(client->connects(), 2u);
}

TEST_F(RedisClientTest, FailsFastWhenNothingListens) {
  const int port = server_->port();
  server_->Stop();
  auto client = Connect({.url = "redis://127.0.0.1:" + std::to_string(port), .command_timeout = milliseconds(2'000)});
  const auto start = Clock::now();
  auto r = Call(*client, {"PING"});
  ASSERT_FALSE(r);
  EXPECT_LT(MsSince(start), 1'000);
  EXPECT_NE(r.error().internal.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error().internal;
  EXPECT_NE(r.error().internal.find("refused"), std::string::npos) << r.error().internal;
}

TEST_F(RedisClientTest, BoundsTheCommandsInFlight) {
  auto client = Connect({.command_timeout = milliseconds(300),
                         .max_in_flight = 4,
                         .reconnect_min_delay = milliseconds(10),
                         .reconnect_max_delay = milliseconds(50)});
  ASSERT_TRUE(EventuallyUp(*client));
  server_->Pause();
  std::vector<std::optional<core::Result<RedisReply>>> results(10);
  for (size_t i = 0; i < results.size(); ++i)
    asio::co_spawn(io_, EchoInto(*client, std::to_string(i), results[i]), asio::detached);
  io_.restart();
  io_.run();
  server_->Resume();
  int too_many = 0;
  int timed_out = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(*r);
    if (r->error().internal.find("too many commands in flight") != std::string::npos) ++too_many;
    if (r->error().internal.find("no reply within") != std::string::npos) ++timed_out;
  }
  EXPECT_EQ(too_many, 6);
  EXPECT_EQ(timed_out, 4);
}

TEST_F(RedisClientTest, DestroyingTheClientFailsWhatIsOutstanding) {
  auto client = Connect({.command_timeout = milliseconds(10'000)});
  ASSERT_TRUE(EventuallyUp(*client));
  server_->Pause();
  std::optional<core::Result<RedisReply>> result;
  asio::co_spawn(io_, EchoInto(*client, "x", result), asio::detached);
  io_.restart();
  io_.poll();  // the command is handed to the client
  const auto start = Clock::now();
  client.reset();
  io_.run();
  server_->Resume();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().internal.find("closed"), std::string::npos) << result->error().internal;
  EXPECT_LT(MsSince(start), 2'000);
}

TEST_F(RedisClientTest, AuthAndSelectComeFromTheUrl) {
  RedisTestServer secured({.password = "s3cret"});
  RedisClientOptions options = Relaxed();
  options.url = secured.Url(3);
  auto client = Connect(options);
  auto set = Call(*client, {"SET", "k", "in-db-3"});
  ASSERT_TRUE(set) << Text(set);
  EXPECT_EQ(set->str, "OK");
  EXPECT_EQ(secured.Command({"GET", "k"}, 3).str, "in-db-3");
  EXPECT_TRUE(secured.Command({"GET", "k"}, 0).IsNil());

  auto wrong = Connect({.url = "redis://:wrong@127.0.0.1:" + std::to_string(secured.port())});
  auto r = Call(*wrong, {"PING"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().internal.find("AUTH failed"), std::string::npos) << r.error().internal;
  EXPECT_EQ(r.error().internal.find("wrong@"), std::string::npos);

  auto no_password = Connect({.url = "redis://127.0.0.1:" + std::to_string(secured.port())});
  auto n = Call(*no_password, {"PING"});
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().internal.find("NOAUTH"), std::string::npos) << n.error().internal;
}

TEST_F(RedisClientTest, BadOptionsAreRefusedAtCreate) {
  for (const char* url : {"http://127.0.0.1:6379", "redis://", "redis://h:99999", "rediss://h:6379"}) {
    auto c = RedisClient::Create(client_io_.io().get_executor(), {.url = url});
    ASSERT_FALSE(c) << url;
    EXPECT_EQ(c.error().code, core::Errc::kInvalidArgument) << url;
  }
  auto zero = RedisClient::Create(client_io_.io().get_executor(),
                                  {.url = server_->Url(), .command_timeout = milliseconds(0)});
  EXPECT_FALSE(zero);
}

}  // namespace
}  // namespace shopd::redis

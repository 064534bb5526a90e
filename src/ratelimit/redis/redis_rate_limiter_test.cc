// RedisRateLimiter against a real redis-server: the RateLimiter contract,
// replicas sharing one count, and the fallback while Redis is down or stalled.
#include "ratelimit/redis/redis_rate_limiter.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/testing/async_test_util.h"
#include "obs/metrics.h"
#include "ratelimit/fallback_rate_limiter.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "ratelimit/rate_limiter_contract_test.h"
#include "ratelimit/stored_key.h"
#include "redis/redis_client.h"
#include "redis/testing/redis_test_server.h"

namespace shopd::ratelimit {
namespace {

namespace asio = boost::asio;
using redis::testing::RedisTestServer;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

std::string UniquePrefix() {
  static std::atomic<int> next{0};
  return "shopd-test-rl-" + std::to_string(++next) + ":";
}

// Deadlines far above any round trip, for the tests that are not about
// deadlines: a loaded machine (sanitizers, parallel tests) must not fail them.
redis::RedisClientOptions RelaxedClient() {
  return {.connect_timeout = milliseconds(2'000), .command_timeout = milliseconds(2'000)};
}

// One replica's Redis limiter: its own client, connection and thread.
class Replica {
 public:
  Replica(const std::string& url, std::string prefix, const core::Clock* time_offset = nullptr,
          redis::RedisClientOptions client_options = RelaxedClient()) {
    client_options.url = url;
    auto client = redis::RedisClient::Create(io_.io().get_executor(), client_options);
    if (!client) throw std::runtime_error(client.error().message);
    client_ = std::move(*client);
    limiter_ = std::make_unique<RedisRateLimiter>(
        *client_, RedisRateLimiterOptions{.key_prefix = std::move(prefix), .test_time_offset = time_offset});
  }
  ~Replica() {
    limiter_.reset();
    client_.reset();
  }
  RedisRateLimiter& limiter() { return *limiter_; }

 private:
  shopd::testing::IoThread io_;  // first: stops after the client is gone
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<RedisRateLimiter> limiter_;
};

// For the contract: a Redis failure fails the test rather than becoming a
// decision that might happen to match the expected one.
class StrictRedisLimiter final : public RateLimiter {
 public:
  StrictRedisLimiter(const std::string& url, const core::Clock& clock) : replica_(url, UniquePrefix(), &clock) {}

  // RateLimiter
  asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) override {
    co_return Checked(co_await replica_.limiter().Hit(key, limit, window_ms));
  }
  asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) override {
    co_return Checked(co_await replica_.limiter().Peek(key, limit, window_ms));
  }
  asio::awaitable<void> Refund(std::string_view key, int limit, int64_t window_ms) override {
    core::Result<void> r = co_await replica_.limiter().Refund(key, limit, window_ms);
    if (!r) ADD_FAILURE() << "Redis failed: " << r.error().internal;
  }

 private:
  static Decision Checked(const core::Result<Decision>& d) {
    if (d) return *d;
    ADD_FAILURE() << "Redis failed: " << d.error().internal;
    return Decision{false, -1};
  }
  Replica replica_;
};

std::unique_ptr<RateLimiter> MakeRedis(core::ManualClock& clock) {
  RedisTestServer* server = RedisTestServer::Shared();
  if (server == nullptr) return nullptr;
  return std::make_unique<StrictRedisLimiter>(server->Url(), clock);
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimiterContract, ::testing::Values(RateLimiterFactory(MakeRedis)),
                         [](const auto&) { return std::string("Redis"); });

class RedisRateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RedisTestServer::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    server_ = RedisTestServer::Shared();
  }

  template <class T>
  T Run(asio::awaitable<T> op) {
    return shopd::testing::AwaitOn(io_, std::move(op));
  }
  Decision Hit(FallibleRateLimiter& l, std::string_view key, int limit, int64_t window_ms) {
    core::Result<Decision> d = Run(l.Hit(key, limit, window_ms));
    EXPECT_TRUE(d) << d.error().internal;
    return d ? *d : Decision{false, -1};
  }

  asio::io_context io_;
  RedisTestServer* server_ = nullptr;
};

TEST_F(RedisRateLimiterTest, ReplicasShareOneCount) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Replica b(server_->Url(), prefix);
  EXPECT_TRUE(Hit(a.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
  EXPECT_TRUE(Hit(b.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
  EXPECT_TRUE(Hit(a.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
  EXPECT_FALSE(Hit(b.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
  EXPECT_FALSE(Hit(a.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
  ASSERT_TRUE(Run(b.limiter().Refund("login:ip:10.0.0.1", 3, 60'000)));
  EXPECT_TRUE(Hit(a.limiter(), "login:ip:10.0.0.1", 3, 60'000).allowed);
}

TEST_F(RedisRateLimiterTest, RetryAfterIsOneIntervalOnTheServersClock) {
  Replica a(server_->Url(), UniquePrefix());
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Hit(a.limiter(), "k", 5, 60'000).allowed);
  Decision d = Hit(a.limiter(), "k", 5, 60'000);
  EXPECT_FALSE(d.allowed);
  // Exactly 12 s at the instant of the first hit; real time has moved on a little since.
  EXPECT_LE(d.retry_after_ms, 12'000);
  EXPECT_GE(d.retry_after_ms, 12'000 - MsSince(start) - 1);
}

TEST_F(RedisRateLimiterTest, KeysExpireWhenTheirBucketIsFullAgain) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  ASSERT_TRUE(Hit(a.limiter(), "k", 2, 1'000).allowed);
  const int64_t pttl = server_->Command({"PTTL", prefix + "k"}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 500);  // one interval: then the bucket is full and the key says nothing
  ASSERT_TRUE(Run(a.limiter().Refund("k", 2, 1'000)));
  EXPECT_EQ(server_->Command({"EXISTS", prefix + "k"}).integer, 0);
}

TEST_F(RedisRateLimiterTest, LongKeysAreStoredAsDigests) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  const std::string key(100'000, 'k');
  ASSERT_TRUE(Hit(a.limiter(), key, 2, 60'000).allowed);
  const std::string stored = a.limiter().RedisKey(key);
  EXPECT_EQ(stored, prefix + StoredKey(key));
  EXPECT_EQ(stored.size(), prefix.size() + 33);
  EXPECT_EQ(server_->Command({"EXISTS", stored}).integer, 1);
  EXPECT_EQ(server_->Command({"EXISTS", prefix + key}).integer, 0);
}

TEST_F(RedisRateLimiterTest, ScriptIsLoadedAgainAfterTheServerForgetsIt) {
  Replica a(server_->Url(), UniquePrefix());
  ASSERT_TRUE(Hit(a.limiter(), "k", 2, 60'000).allowed);
  ASSERT_EQ(server_->Command({"SCRIPT", "FLUSH"}).str, "OK");
  EXPECT_TRUE(Hit(a.limiter(), "k", 2, 60'000).allowed);
  EXPECT_FALSE(Hit(a.limiter(), "k", 2, 60'000).allowed);
}

TEST_F(RedisRateLimiterTest, NonPositiveLimitsRejectWithoutAskingRedis) {
  Replica a(server_->Url(), UniquePrefix());
  Decision d = Hit(a.limiter(), "k", 0, 5'000);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 5'000);
  EXPECT_TRUE(Run(a.limiter().Refund("k", 0, 5'000)));
}

TEST_F(RedisRateLimiterTest, RedisDownFallsBackToTheLocalLimiterAndIsCounted) {
  RedisTestServer own;
  core::ManualClock clock;
  obs::MetricsRegistry metrics;
  Replica shared(own.Url(), "shopd:rl:", nullptr,
                 {.connect_timeout = milliseconds(2'000),
                  .command_timeout = milliseconds(2'000),
                  .reconnect_min_delay = milliseconds(10),
                  .reconnect_max_delay = milliseconds(50)});
  MemoryRateLimiter local(clock);
  FallbackRateLimiter limiter(shared.limiter(), local, &metrics, "login");
  auto hits_fallen_back = [&] {
    return metrics.GetCounter("shopd_ratelimit_fallbacks_total", "f", {{"limiter", "login"}, {"op", "hit"}}).Value();
  };

  EXPECT_TRUE(Run(limiter.Hit("ip", 2, 60'000)).allowed);  // counted in Redis
  EXPECT_EQ(local.size(), 0u);
  EXPECT_EQ(hits_fallen_back(), 0u);

  own.Stop();
  const auto start = Clock::now();
  EXPECT_TRUE(Run(limiter.Hit("ip", 2, 60'000)).allowed);
  EXPECT_TRUE(Run(limiter.Hit("ip", 2, 60'000)).allowed);
  EXPECT_FALSE(Run(limiter.Hit("ip", 2, 60'000)).allowed);  // the local limit holds
  EXPECT_LT(MsSince(start), 1'000);
  EXPECT_EQ(hits_fallen_back(), 3u);
  EXPECT_EQ(local.size(), 1u);

  own.Start();
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] {
    const uint64_t before = hits_fallen_back();
    Run(limiter.Hit("other", 1'000, 60'000));
    return hits_fallen_back() == before;
  }));
}

TEST_F(RedisRateLimiterTest, StalledRedisFallsBackWithinTheDeadline) {
  RedisTestServer own;
  core::ManualClock clock;
  Replica shared(own.Url(), "shopd:rl:", nullptr, {.command_timeout = milliseconds(50)});
  MemoryRateLimiter local(clock);
  FallbackRateLimiter limiter(shared.limiter(), local);
  ASSERT_TRUE(Run(limiter.Hit("ip", 5, 60'000)).allowed);
  own.Pause();
  const auto start = Clock::now();
  EXPECT_TRUE(Run(limiter.Hit("ip", 5, 60'000)).allowed);
  const int64_t took_ms = MsSince(start);
  own.Resume();
  EXPECT_GE(took_ms, 45);
  EXPECT_LT(took_ms, 1'000);
  EXPECT_EQ(limiter.fallbacks(), 1u);
}

}  // namespace
}  // namespace shopd::ratelimit

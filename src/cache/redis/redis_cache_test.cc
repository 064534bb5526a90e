// RedisCache against a real redis-server: the Cache contract, replicas
// sharing one server, the lease across processes, and Redis down or stalled.
#include "cache/redis/redis_cache.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache_contract_test.h"
#include "core/testing/async_test_util.h"
#include "obs/metrics.h"
#include "redis/redis_client.h"
#include "redis/testing/redis_test_server.h"

namespace shopd::cache {
namespace {

namespace asio = boost::asio;
using redis::testing::RedisTestServer;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kTtl{60'000};

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// Deadlines far above any round trip, for the tests that are not about
// deadlines: a loaded machine (sanitizers, parallel tests) must not fail them.
redis::RedisClientOptions RelaxedClient() {
  return {.connect_timeout = milliseconds(2'000), .command_timeout = milliseconds(2'000)};
}

// One replica's cache: its own client, connection and connection thread.
class Replica final : public Cache {
 public:
  Replica(const std::string& url, std::string prefix, RedisCacheOptions options = {},
          obs::MetricsRegistry* metrics = nullptr, redis::RedisClientOptions client_options = RelaxedClient()) {
    client_options.url = url;
    auto client = redis::RedisClient::Create(io_.io().get_executor(), client_options);
    if (!client) throw std::runtime_error(client.error().message);
    client_ = std::move(*client);
    options.key_prefix = std::move(prefix);
    cache_ = std::make_unique<RedisCache>(*client_, options, metrics, "products");
  }
  ~Replica() override {
    cache_.reset();
    client_.reset();
  }

  // Cache
  asio::awaitable<std::optional<std::string>> Get(std::string key) override { return cache_->Get(std::move(key)); }
  asio::awaitable<void> Set(std::string key, std::string value, milliseconds ttl) override {
    return cache_->Set(std::move(key), std::move(value), ttl);
  }
  asio::awaitable<void> Delete(std::string key) override { return cache_->Delete(std::move(key)); }
  asio::awaitable<core::Result<std::string>> GetOrLoad(std::string key, milliseconds ttl, Loader load) override {
    return cache_->GetOrLoad(std::move(key), ttl, std::move(load));
  }

  RedisCache& cache() { return *cache_; }

 private:
  shopd::testing::IoThread io_;  // first: stops after the client is gone
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<RedisCache> cache_;
};

std::string UniquePrefix() {
  static std::atomic<int> next{0};
  return "shopd-test-" + std::to_string(++next) + ":";
}

std::unique_ptr<Cache> MakeRedis(core::ManualClock&) {
  RedisTestServer* server = RedisTestServer::Shared();
  if (server == nullptr) return nullptr;
  return std::make_unique<Replica>(server->Url(), UniquePrefix());
}

INSTANTIATE_TEST_SUITE_P(Backends, CacheContract, ::testing::Values(CacheBackend(MakeRedis, CacheKind::kServer)),
                         [](const auto&) { return std::string("Redis"); });

// Spawned coroutines are plain functions, never capturing lambdas (GCC 12
// destroys a spawned lambda coroutine's captures twice).
asio::awaitable<void> GetOrLoadInto(Cache& cache, std::string key, Loader load,
                                    std::optional<core::Result<std::string>>& out) {
  out = co_await cache.GetOrLoad(std::move(key), kTtl, std::move(load));
}

asio::awaitable<void> SleepFor(milliseconds ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, ms);
  co_await timer.async_wait(asio::use_awaitable);
}

// Counts its runs; answers `value` after `delay` of (asynchronous) work.
Loader SlowLoader(std::atomic<int>& loads, std::string value, milliseconds delay) {
  return [&loads, value, delay]() -> asio::awaitable<core::Result<std::string>> {
    loads.fetch_add(1);
    co_await SleepFor(delay);
    co_return value;
  };
}

class RedisCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RedisTestServer::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    server_ = RedisTestServer::Shared();
  }

  template <class T>
  T Run(asio::awaitable<T> op) {
    return shopd::testing::AwaitOn(io_, std::move(op));
  }
  void Run(asio::awaitable<void> op) {
    io_.restart();
    asio::co_spawn(io_, std::move(op), asio::detached);
    io_.run();
  }

  asio::io_context io_;
  RedisTestServer* server_ = nullptr;
};

TEST_F(RedisCacheTest, ReplicasShareEntriesAndInvalidations) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Replica b(server_->Url(), prefix);
  Run(a.Set("product:1", "v1", kTtl));
  EXPECT_EQ(Run(b.Get("product:1")), "v1");
  Run(b.Delete("product:1"));  // a write on replica b
  EXPECT_EQ(Run(a.Get("product:1")), std::nullopt);

  std::atomic<int> loads{0};
  auto loaded = Run(a.GetOrLoad("product:1", kTtl, contract_test::CountingLoader(loads, std::string("v2"))));
  EXPECT_EQ(contract_test::ValueOf(loaded), "v2");
  EXPECT_EQ(Run(b.Get("product:1")), "v2");
  auto again = Run(b.GetOrLoad("product:1", kTtl, contract_test::CountingLoader(loads, std::string("v3"))));
  EXPECT_EQ(contract_test::ValueOf(again), "v2");
  EXPECT_EQ(loads.load(), 1);
}

// The claim: a cold key is loaded once across replicas while the load takes
// less than lease_wait (here 100 ms against 500 ms); otherwise at most once
// per replica (next test).
TEST_F(RedisCacheTest, ColdKeyIsLoadedOnceAcrossReplicas) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Replica b(server_->Url(), prefix);
  constexpr int kCallersPerReplica = 20;
  std::atomic<int> loads{0};
  Loader load = SlowLoader(loads, "product-json", milliseconds(100));
  std::vector<std::optional<core::Result<std::string>>> results(2 * kCallersPerReplica);
  asio::io_context io_a;
  asio::io_context io_b;
  for (int i = 0; i < 2 * kCallersPerReplica; ++i) {
    const bool on_a = i % 2 == 0;
    asio::co_spawn(on_a ? io_a : io_b, GetOrLoadInto(on_a ? static_cast<Cache&>(a) : b, "product:7", load, results[i]),
                   asio::detached);
  }
  std::thread other([&] { io_b.run(); });
  io_a.run();
  other.join();

  EXPECT_EQ(loads.load(), 1);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    EXPECT_EQ(contract_test::ValueOf(*results[i]), "product-json") << i;
  }
  EXPECT_EQ(server_->Command({"GET", prefix + "cache:product:7"}).str, "product-json");
  EXPECT_TRUE(server_->Command({"GET", prefix + "lease:product:7"}).IsNil());  // given back with the fill
}

TEST_F(RedisCacheTest, WaitForAnotherReplicasSlowLoadIsBounded) {
  const std::string prefix = UniquePrefix();
  obs::MetricsRegistry metrics;
  Replica a(server_->Url(), prefix, {.lease_wait = milliseconds(200)}, &metrics);
  Replica b(server_->Url(), prefix);
  std::atomic<int> loads{0};
  // Replica b takes the lease and loads for 1.5 s.
  std::optional<core::Result<std::string>> slow;
  asio::io_context io_b;
  asio::co_spawn(io_b, GetOrLoadInto(b, "k", SlowLoader(loads, "from-b", milliseconds(1'500)), slow), asio::detached);
  std::thread other([&] { io_b.run(); });
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return loads.load() == 1; }));

  const auto start = Clock::now();
  auto mine = Run(a.GetOrLoad("k", kTtl, SlowLoader(loads, "from-a", milliseconds(0))));
  const int64_t waited_ms = MsSince(start);
  other.join();

  EXPECT_EQ(contract_test::ValueOf(mine), "from-a");
  EXPECT_GE(waited_ms, 190);
  EXPECT_LT(waited_ms, 1'200);  // gave up well before b finished
  EXPECT_EQ(loads.load(), 2);
  EXPECT_EQ(metrics.GetCounter("shopd_cache_lease_wait_timeouts_total", "t", {{"cache", "products"}}).Value(), 1u);
  ASSERT_TRUE(slow.has_value());
  EXPECT_EQ(contract_test::ValueOf(*slow), "from-b");
  EXPECT_EQ(Run(a.Get("k")), "from-b");  // only the lease holder stored
}

TEST_F(RedisCacheTest, LoaderErrorLetsTheNextReplicaLoadAtOnce) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Replica b(server_->Url(), prefix);
  std::atomic<int> loads{0};
  auto failed = Run(a.GetOrLoad(
      "k", kTtl, contract_test::CountingLoader(loads, core::Error::Make(core::Errc::kUnavailable, "db down"))));
  ASSERT_FALSE(failed);
  const auto start = Clock::now();
  auto ok = Run(b.GetOrLoad("k", kTtl, contract_test::CountingLoader(loads, std::string("v"))));
  EXPECT_EQ(contract_test::ValueOf(ok), "v");
  EXPECT_LT(MsSince(start), 400);  // not the 500 ms lease wait: the lease was given back
  EXPECT_EQ(loads.load(), 2);
}

asio::awaitable<core::Result<std::string>> DeleteOnOtherReplica(Cache& other, std::string key) {
  co_await other.Delete(std::move(key));
  co_return std::string("old");
}

asio::awaitable<core::Result<std::string>> SetOnOtherReplica(Cache& other, std::string key) {
  co_await other.Set(std::move(key), "new", kTtl);
  co_return std::string("old");
}

TEST_F(RedisCacheTest, WriteOnAnotherReplicaDuringALoadKeepsTheStaleResultOut) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Replica b(server_->Url(), prefix);
  // The row changes on replica b (which invalidates) while a's load reads it.
  Loader racing_delete = [&b]() { return DeleteOnOtherReplica(b, "j"); };
  EXPECT_EQ(contract_test::ValueOf(Run(a.GetOrLoad("j", kTtl, racing_delete))), "old");
  EXPECT_EQ(Run(a.Get("j")), std::nullopt);

  Loader racing_set = [&b]() { return SetOnOtherReplica(b, "k"); };
  EXPECT_EQ(contract_test::ValueOf(Run(a.GetOrLoad("k", kTtl, racing_set))), "old");
  EXPECT_EQ(Run(a.Get("k")), "new");
}

TEST_F(RedisCacheTest, KeysArePrefixedAndTtlsAreMilliseconds) {
  const std::string prefix = UniquePrefix();
  Replica a(server_->Url(), prefix);
  Run(a.Set("product:9", "body", milliseconds(5'000)));
  EXPECT_EQ(a.cache().ValueKey("product:9"), prefix + "cache:product:9");
  EXPECT_EQ(server_->Command({"GET", prefix + "cache:product:9"}).str, "body");
  const int64_t pttl = server_->Command({"PTTL", prefix + "cache:product:9"}).integer;
  EXPECT_GT(pttl, 4'000);
  EXPECT_LE(pttl, 5'000);
  // A huge TTL is clamped, not refused.
  Run(a.Set("forever", "v", milliseconds::max()));
  EXPECT_EQ(Run(a.Get("forever")), "v");
}

TEST_F(RedisCacheTest, DeclinedWritesDropThePreviousValue) {
  Replica a(server_->Url(), UniquePrefix(), {.max_value_bytes = 10});
  Run(a.Set("k", "small", kTtl));
  Run(a.Set("k", std::string(11, 'x'), kTtl));
  EXPECT_EQ(Run(a.Get("k")), std::nullopt);
  Run(a.Set("j", "small", kTtl));
  Run(a.Set("j", "other", milliseconds(0)));
  EXPECT_EQ(Run(a.Get("j")), std::nullopt);
  std::atomic<int> loads{0};
  auto big = Run(a.GetOrLoad("big", kTtl, contract_test::CountingLoader(loads, std::string(100, 'y'))));
  EXPECT_EQ(contract_test::ValueOf(big).size(), 100u);
  EXPECT_EQ(Run(a.Get("big")), std::nullopt);
}

TEST_F(RedisCacheTest, RedisDownIsAMissAndDroppedWritesAndIsCounted) {
  RedisTestServer own;
  obs::MetricsRegistry metrics;
  Replica a(own.Url(), "shopd:", {}, &metrics,
            {.connect_timeout = milliseconds(2'000),
             .command_timeout = milliseconds(2'000),
             .reconnect_min_delay = milliseconds(10),
             .reconnect_max_delay = milliseconds(50)});
  Run(a.Set("k", "v", kTtl));
  ASSERT_EQ(Run(a.Get("k")), "v");
  own.Stop();

  const auto start = Clock::now();
  EXPECT_EQ(Run(a.Get("k")), std::nullopt);
  Run(a.Set("k", "w", kTtl));
  Run(a.Delete("k"));
  std::atomic<int> loads{0};
  auto loaded = Run(a.GetOrLoad("k", kTtl, contract_test::CountingLoader(loads, std::string("from-db"))));
  EXPECT_EQ(contract_test::ValueOf(loaded), "from-db");
  EXPECT_EQ(loads.load(), 1);
  EXPECT_LT(MsSince(start), 1'000);

  auto errors = [&](const char* op) {
    return metrics.GetCounter("shopd_cache_backend_errors_total", "e", {{"cache", "products"}, {"op", op}}).Value();
  };
  EXPECT_EQ(errors("get"), 1u);
  EXPECT_EQ(errors("set"), 1u);
  EXPECT_EQ(errors("delete"), 1u);
  EXPECT_EQ(errors("load"), 1u);
  EXPECT_NE(metrics.RenderPrometheus().find("shopd_cache_backend_errors_total{cache=\"products\",op=\"get\"} 1"),
            std::string::npos);

  own.Start();
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] {
    Run(a.Set("k", "back", kTtl));
    return Run(a.Get("k")) == "back";
  }));
}

TEST_F(RedisCacheTest, StalledRedisFallsThroughWithinTheDeadline) {
  RedisTestServer own;
  Replica a(own.Url(), "shopd:", {}, nullptr, {.command_timeout = milliseconds(100)});
  Run(a.Set("k", "v", kTtl));
  own.Pause();
  const auto start = Clock::now();
  std::atomic<int> loads{0};
  auto loaded = Run(a.GetOrLoad("k", kTtl, contract_test::CountingLoader(loads, std::string("from-db"))));
  const int64_t took_ms = MsSince(start);
  own.Resume();
  EXPECT_EQ(contract_test::ValueOf(loaded), "from-db");
  EXPECT_GE(took_ms, 90);
  EXPECT_LT(took_ms, 1'000);
}

}  // namespace
}  // namespace shopd::cache

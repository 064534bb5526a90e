#include "cache/memory/memory_cache.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <stdexcept>
#include <thread>

#include "cache/cache_contract_test.h"
#include "obs/metrics.h"

namespace shopd::cache {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<Cache> MakeMemory(core::ManualClock& clock) { return std::make_unique<MemoryCache>(clock); }

INSTANTIATE_TEST_SUITE_P(Backends, CacheContract, ::testing::Values(CacheFactory(MakeMemory)),
                         [](const auto&) { return std::string("Memory"); });

constexpr milliseconds kTtl{60'000};

// One shard: bounds and LRU order are exact and global.
MemoryCacheOptions OneShard(size_t max_entries, size_t max_bytes = 1 << 20) {
  return MemoryCacheOptions{.max_entries = max_entries, .max_bytes = max_bytes, .shards = 1};
}

core::Result<std::string> RunGetOrLoad(MemoryCache& cache, std::string key, Loader load) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, cache.GetOrLoad(std::move(key), kTtl, std::move(load)),
                                   boost::asio::use_future);
  io.run();
  return fut.get();
}

TEST(MemoryCache, EntryBoundEvictsTheLeastRecentlyUsed) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(3));
  for (const char* k : {"a", "b", "c", "d"}) cache.Put(k, "v", kTtl);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.TryGet("a"), std::nullopt);
  EXPECT_EQ(cache.TryGet("d"), "v");
}

TEST(MemoryCache, EntryBoundHoldsAcrossShards) {
  core::ManualClock clock;
  MemoryCache cache(clock, MemoryCacheOptions{.max_entries = 160});
  for (int i = 0; i < 10'000; ++i) cache.Put("product:" + std::to_string(i), "v", kTtl);
  EXPECT_LE(cache.size(), 160u);
  EXPECT_GT(cache.size(), 80u);  // every shard is used
}

TEST(MemoryCache, ByteBoundEvictsTheLeastRecentlyUsed) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(100, /*max_bytes=*/100));
  const std::string value(29, 'x');  // 30 bytes with a one-byte key
  for (const char* k : {"a", "b", "c"}) cache.Put(k, value, kTtl);
  EXPECT_EQ(cache.bytes(), 90u);
  cache.Put("d", value, kTtl);
  EXPECT_EQ(cache.bytes(), 90u);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.TryGet("a"), std::nullopt);
  // A larger value evicts as many as it needs.
  cache.Put("e", std::string(79, 'y'), kTtl);
  EXPECT_LE(cache.bytes(), 100u);
  EXPECT_EQ(cache.TryGet("e"), std::string(79, 'y'));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(MemoryCache, ByteBoundCountsOverwrites) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(100, 100));
  cache.Put("a", std::string(49, 'x'), kTtl);
  cache.Put("b", std::string(9, 'x'), kTtl);
  cache.Put("b", std::string(49, 'x'), kTtl);  // grows in place: 50 + 50 fits
  EXPECT_EQ(cache.bytes(), 100u);
  EXPECT_EQ(cache.size(), 2u);
  cache.Put("b", std::string(59, 'x'), kTtl);  // now "a" has to go
  EXPECT_EQ(cache.bytes(), 60u);
  EXPECT_EQ(cache.TryGet("a"), std::nullopt);
}

TEST(MemoryCache, RecentlyReadEntrySurvivesEviction) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(3));
  for (const char* k : {"a", "b", "c"}) cache.Put(k, k, kTtl);
  EXPECT_EQ(cache.TryGet("a"), "a");  // "b" is now the least recently used
  cache.Put("d", "d", kTtl);
  EXPECT_EQ(cache.TryGet("a"), "a");
  EXPECT_EQ(cache.TryGet("b"), std::nullopt);
  EXPECT_EQ(cache.TryGet("c"), "c");
  EXPECT_EQ(cache.TryGet("d"), "d");
}

TEST(MemoryCache, RecentlyWrittenEntrySurvivesEviction) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(2));
  cache.Put("a", "1", kTtl);
  cache.Put("b", "1", kTtl);
  cache.Put("a", "2", kTtl);
  cache.Put("c", "1", kTtl);
  EXPECT_EQ(cache.TryGet("a"), "2");
  EXPECT_EQ(cache.TryGet("b"), std::nullopt);
}

TEST(MemoryCache, OversizedValueIsNotStored) {
  core::ManualClock clock;
  // 16 shards of 1 KiB each.
  MemoryCache cache(clock, MemoryCacheOptions{.max_bytes = 16 << 10});
  cache.Put("small", "v", kTtl);
  cache.Put("big", std::string(2'000, 'x'), kTtl);
  EXPECT_EQ(cache.TryGet("big"), std::nullopt);
  EXPECT_EQ(cache.TryGet("small"), "v");
  EXPECT_EQ(cache.size(), 1u);
  // ...and an oversized write still removes the previous value.
  cache.Put("small", std::string(2'000, 'x'), kTtl);
  EXPECT_EQ(cache.TryGet("small"), std::nullopt);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(MemoryCache, OversizedLoadedValueIsReturnedButNotStored) {
  core::ManualClock clock;
  MemoryCache cache(clock, OneShard(10, 100));
  std::atomic<int> loads{0};
  Loader load = contract_test::CountingLoader(loads, std::string(200, 'x'));
  EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "k", load)).size(), 200u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(MemoryCache, NonPositiveTtlStoresNothingAndDropsTheOldValue) {
  core::ManualClock clock;
  MemoryCache cache(clock);
  cache.Put("k", "v", kTtl);
  cache.Put("k", "w", milliseconds(0));
  EXPECT_EQ(cache.TryGet("k"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(MemoryCache, ExpiredEntriesAreRemovedWhenLookedUp) {
  core::ManualClock clock;
  MemoryCache cache(clock);
  cache.Put("k", "v", milliseconds(100));
  clock.AdvanceMs(100);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.TryGet("k"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(MemoryCache, HugeTtlDoesNotOverflow) {
  core::ManualClock clock;
  MemoryCache cache(clock);
  clock.AdvanceMs(1'000);
  cache.Put("k", "v", milliseconds::max());
  clock.AdvanceMs(1'000'000'000);
  EXPECT_EQ(cache.TryGet("k"), "v");
}

TEST(MemoryCache, MetricsCountHitsMissesAndEvictions) {
  core::ManualClock clock;
  obs::MetricsRegistry registry;
  {
    MemoryCache cache(clock, OneShard(1), &registry, "products");
    const obs::Labels labels{{"cache", "products"}};
    obs::Counter& hits = registry.GetCounter("shopd_cache_hits_total", "h", labels);
    obs::Counter& misses = registry.GetCounter("shopd_cache_misses_total", "m", labels);
    obs::Counter& evictions = registry.GetCounter("shopd_cache_evictions_total", "e", labels);
    obs::Gauge& entries = registry.GetGauge("shopd_cache_entries", "n", labels);
    obs::Gauge& bytes = registry.GetGauge("shopd_cache_bytes", "b", labels);

    EXPECT_EQ(cache.TryGet("a"), std::nullopt);
    cache.Put("a", "1", kTtl);
    EXPECT_EQ(cache.TryGet("a"), "1");
    EXPECT_EQ(cache.TryGet("a"), "1");
    cache.Put("b", "22", kTtl);  // evicts "a"
    EXPECT_EQ(hits.Value(), 2u);
    EXPECT_EQ(misses.Value(), 1u);
    EXPECT_EQ(evictions.Value(), 1u);
    EXPECT_EQ(entries.Value(), 1.0);
    EXPECT_EQ(bytes.Value(), 3.0);

    // Expired entries pushed out are not evictions; GetOrLoad counts too.
    cache.Put("c", "3", milliseconds(10));  // evicts "b" (live)
    clock.AdvanceMs(20);
    cache.Put("d", "4", kTtl);  // pushes out the expired "c"
    EXPECT_EQ(evictions.Value(), 2u);
    std::atomic<int> loads{0};
    EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "d", contract_test::CountingLoader(loads, std::string("x")))), "4");
    EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "e", contract_test::CountingLoader(loads, std::string("x")))), "x");
    EXPECT_EQ(hits.Value(), 3u);
    EXPECT_EQ(misses.Value(), 2u);

    const std::string text = registry.RenderPrometheus();
    EXPECT_NE(text.find("shopd_cache_hits_total{cache=\"products\"} 3"), std::string::npos) << text;
    EXPECT_NE(text.find("shopd_cache_evictions_total{cache=\"products\"} 3"), std::string::npos) << text;
    EXPECT_NE(text.find("shopd_cache_entries{cache=\"products\"} 1"), std::string::npos) << text;
  }
  // A destroyed cache takes its entries out of the gauges.
  EXPECT_EQ(registry.GetGauge("shopd_cache_entries", "n", {{"cache", "products"}}).Value(), 0.0);
  EXPECT_EQ(registry.GetGauge("shopd_cache_bytes", "b", {{"cache", "products"}}).Value(), 0.0);
}

TEST(MemoryCache, WriteDuringALoadKeepsTheStaleResultOut) {
  core::ManualClock clock;
  MemoryCache cache(clock);
  // The row changes (and the writer invalidates) while the load is reading it.
  Loader racing_set = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    cache.Put("k", "new", kTtl);
    co_return std::string("old");
  };
  EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "k", racing_set)), "old");
  EXPECT_EQ(cache.TryGet("k"), "new");

  Loader racing_delete = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    cache.Erase("j");
    co_return std::string("old");
  };
  EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "j", racing_delete)), "old");
  EXPECT_EQ(cache.TryGet("j"), std::nullopt);
}

TEST(MemoryCache, WaitersBeyondTheBoundFailFast) {
  core::ManualClock clock;
  MemoryCache cache(clock, MemoryCacheOptions{.max_waiters_per_key = 2});
  std::atomic<int> loads{0};
  Loader load = contract_test::CountingLoader(loads, std::string("v"), /*yields=*/5);
  boost::asio::io_context io;
  std::vector<std::optional<core::Result<std::string>>> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    auto caller = [&, i]() -> boost::asio::awaitable<void> {
      results[i] = co_await cache.GetOrLoad("k", kTtl, load);
    };
    boost::asio::co_spawn(io, caller, boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(loads.load(), 1);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(contract_test::ValueOf(*results[i]), "v") << i;
  ASSERT_FALSE(*results[3]);
  EXPECT_EQ(results[3]->error().code, core::Errc::kUnavailable);
  EXPECT_EQ(results[3]->error().retry_after_s, 1);
}

TEST(MemoryCache, ThrowingLoaderFailsItsCallerAndReleasesWaiters) {
  core::ManualClock clock;
  MemoryCache cache(clock);
  Loader throwing = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    co_await contract_test::Yield();
    throw std::runtime_error("bug in loader");
  };
  boost::asio::io_context io;
  bool leader_threw = false;
  std::optional<core::Result<std::string>> waiter;
  auto leading = [&]() -> boost::asio::awaitable<void> { co_await cache.GetOrLoad("k", kTtl, throwing); };
  auto waiting = [&]() -> boost::asio::awaitable<void> { waiter = co_await cache.GetOrLoad("k", kTtl, throwing); };
  boost::asio::co_spawn(io, leading, [&](std::exception_ptr e) { leader_threw = e != nullptr; });
  boost::asio::co_spawn(io, waiting, boost::asio::detached);
  io.run();
  EXPECT_TRUE(leader_threw);
  ASSERT_TRUE(waiter.has_value());
  ASSERT_FALSE(*waiter);
  EXPECT_EQ(waiter->error().code, core::Errc::kUnavailable);
  std::atomic<int> loads{0};
  EXPECT_EQ(contract_test::ValueOf(RunGetOrLoad(cache, "k", contract_test::CountingLoader(loads, std::string("ok")))), "ok");
}

TEST(MemoryCache, ConcurrentSetGetDeleteIsSafe) {
  core::ManualClock clock;
  MemoryCache cache(clock, MemoryCacheOptions{.max_entries = 64, .max_bytes = 16 << 10});
  constexpr int kThreads = 4;
  constexpr int kOps = 50'000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const int k = (i * 7 + t * 13) % 200;
        const std::string key = "key:" + std::to_string(k);
        switch (i % 5) {
          case 0:
          case 1:
            cache.Put(key, "value:" + std::to_string(k) + std::string(k % 50, '.'), kTtl);
            break;
          case 4:
            cache.Erase(key);
            break;
          default:
            if (auto v = cache.TryGet(key); v && v->rfind("value:" + std::to_string(k), 0) != 0) ++wrong;
        }
        if (t == 0 && i % 1'000 == 0) clock.AdvanceMs(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.size(), 64u);
  EXPECT_LE(cache.bytes(), 16u << 10);
}

}  // namespace
}  // namespace shopd::cache

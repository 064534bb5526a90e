// cache: the behaviour every Cache backend must show. A backend's test
// instantiates it with a factory that builds an empty cache whose TTLs follow
// the given ManualClock:
//   INSTANTIATE_TEST_SUITE_P(Backends, CacheContract, ::testing::Values(CacheFactory(MakeMemory)),
//                            [](const auto&) { return std::string("Memory"); });
// A backend whose entries live on a server (Redis) says so: its TTLs follow
// the server's clock, which a test cannot step, so the TTL cases run on real
// time with short TTLs; and its calls take real time, which the cases that
// wait for a concurrent caller allow for:
//   ::testing::Values(CacheBackend(MakeRedis, CacheKind::kServer))
// A factory that returns null (its server is not installed) skips the suite.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cache/cache.h"
#include "core/clock.h"

namespace shopd::cache {

using CacheFactory = std::function<std::unique_ptr<Cache>(core::ManualClock&)>;

// kInProcess: TTLs follow the ManualClock given to the factory and calls
// complete without I/O. kServer: TTLs follow a server's real clock and calls
// wait for round trips.
enum class CacheKind { kInProcess, kServer };

struct CacheBackend {
  CacheBackend(CacheFactory f, CacheKind k = CacheKind::kInProcess) : make(std::move(f)), kind(k) {}
  CacheFactory make;
  CacheKind kind;
};

// What gtest prints for the parameter (instead of the std::function's bytes).
inline void PrintTo(const CacheBackend& b, std::ostream* os) {
  *os << (b.kind == CacheKind::kServer ? "a backend on a server" : "an in-process backend");
}

namespace contract_test {

using boost::asio::awaitable;
using boost::asio::use_awaitable;

inline constexpr std::chrono::milliseconds kTtl{60'000};

// Lets the other coroutines on this executor run once.
inline awaitable<void> Yield() {
  auto ex = co_await boost::asio::this_coro::executor;
  co_await boost::asio::post(ex, use_awaitable);
}

// The value, or the error's text (so a failed expectation shows why).
inline std::string ValueOf(const core::Result<std::string>& r) {
  return r ? *r : "<error: " + r.error().message + ">";
}

// A loader that counts its runs and answers `value` after yielding `yields`
// times (so that other callers can arrive while it is in flight).
inline Loader CountingLoader(std::atomic<int>& loads, core::Result<std::string> value, int yields = 0) {
  return [&loads, value, yields]() -> awaitable<core::Result<std::string>> {
    loads.fetch_add(1);
    for (int i = 0; i < yields; ++i) co_await Yield();
    co_return value;
  };
}

}  // namespace contract_test

class CacheContract : public ::testing::TestWithParam<CacheBackend> {
 protected:
  void SetUp() override {
    cache_ = GetParam().make(clock_);
    if (cache_ == nullptr) GTEST_SKIP() << "this backend's server is not available here (see stderr)";
  }

  bool OnServer() const { return GetParam().kind == CacheKind::kServer; }
  // Only for kServer backends: real time has to pass.
  static void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  // Runs one operation to completion on a fresh io_context.
  template <class T>
  static T Run(boost::asio::awaitable<T> op) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
    io.run();
    return fut.get();
  }

  std::optional<std::string> Get(std::string key) { return Run(cache_->Get(std::move(key))); }
  void Set(std::string key, std::string value, std::chrono::milliseconds ttl = contract_test::kTtl) {
    Run(cache_->Set(std::move(key), std::move(value), ttl));
  }
  void Delete(std::string key) { Run(cache_->Delete(std::move(key))); }
  core::Result<std::string> GetOrLoad(std::string key, Loader load,
                                      std::chrono::milliseconds ttl = contract_test::kTtl) {
    return Run(cache_->GetOrLoad(std::move(key), ttl, std::move(load)));
  }

  core::ManualClock clock_;
  std::unique_ptr<Cache> cache_;
};

TEST_P(CacheContract, MissingKeyIsAMiss) { EXPECT_EQ(Get("absent"), std::nullopt); }

TEST_P(CacheContract, SetThenGet) {
  Set("product:1", R"({"id":1})");
  EXPECT_EQ(Get("product:1"), R"({"id":1})");
  EXPECT_EQ(Get("product:2"), std::nullopt);
}

TEST_P(CacheContract, EmptyValueIsAHit) {
  Set("k", "");
  EXPECT_EQ(Get("k"), std::string());
}

TEST_P(CacheContract, SetOverwrites) {
  Set("k", "v1");
  Set("k", "v2");
  EXPECT_EQ(Get("k"), "v2");
}

TEST_P(CacheContract, DeleteRemoves) {
  Set("k", "v");
  Set("other", "w");
  Delete("k");
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(Get("other"), "w");
  Delete("never-set");  // not an error
}

TEST_P(CacheContract, EntriesExpireAfterTheirTtl) {
  if (OnServer()) {
    // The same shape on real time: every "still there" read comes long before
    // its entry's expiry and every "gone" read after it, so load cannot flip them.
    Set("short", "s", std::chrono::milliseconds(200));
    Set("long", "l", std::chrono::milliseconds(700));
    EXPECT_EQ(Get("short"), "s");
    SleepMs(300);
    EXPECT_EQ(Get("short"), std::nullopt);
    EXPECT_EQ(Get("long"), "l");
    SleepMs(500);
    EXPECT_EQ(Get("long"), std::nullopt);
    return;
  }
  Set("short", "s", std::chrono::milliseconds(1'000));
  Set("long", "l", std::chrono::milliseconds(5'000));
  clock_.AdvanceMs(900);
  EXPECT_EQ(Get("short"), "s");
  clock_.AdvanceMs(200);
  EXPECT_EQ(Get("short"), std::nullopt);
  EXPECT_EQ(Get("long"), "l");
  clock_.AdvanceMs(4'000);
  EXPECT_EQ(Get("long"), std::nullopt);
}

TEST_P(CacheContract, OverwriteRenewsTheTtl) {
  if (OnServer()) {
    // Read 600 ms after the first write: only a renewed TTL keeps the key.
    Set("k", "v1", std::chrono::milliseconds(500));
    SleepMs(300);
    Set("k", "v2", std::chrono::milliseconds(500));
    SleepMs(300);
    EXPECT_EQ(Get("k"), "v2");
    return;
  }
  Set("k", "v1", std::chrono::milliseconds(1'000));
  clock_.AdvanceMs(800);
  Set("k", "v2", std::chrono::milliseconds(1'000));
  clock_.AdvanceMs(800);
  EXPECT_EQ(Get("k"), "v2");
}

TEST_P(CacheContract, GetOrLoadCachesTheLoadedValue) {
  std::atomic<int> loads{0};
  Loader load = contract_test::CountingLoader(loads, std::string("loaded"));
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", load)), "loaded");
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", load)), "loaded");
  EXPECT_EQ(loads.load(), 1);
  EXPECT_EQ(Get("k"), "loaded");
}

TEST_P(CacheContract, GetOrLoadAnswersAStoredValueWithoutLoading) {
  std::atomic<int> loads{0};
  Set("k", "stored");
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", contract_test::CountingLoader(loads, std::string("loaded")))), "stored");
  EXPECT_EQ(loads.load(), 0);
}

TEST_P(CacheContract, GetOrLoadLoadsAgainAfterTheTtl) {
  std::atomic<int> loads{0};
  Loader load = contract_test::CountingLoader(loads, std::string("v"));
  const std::chrono::milliseconds ttl(OnServer() ? 200 : 1'000);
  GetOrLoad("k", load, ttl);
  if (OnServer()) {
    SleepMs(300);
  } else {
    clock_.AdvanceMs(1'500);
  }
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", load, ttl)), "v");
  EXPECT_EQ(loads.load(), 2);
}

TEST_P(CacheContract, DeleteInvalidatesALoadedValue) {
  std::atomic<int> loads{0};
  Loader load = contract_test::CountingLoader(loads, std::string("v"));
  GetOrLoad("k", load);
  Delete("k");
  EXPECT_EQ(Get("k"), std::nullopt);
  GetOrLoad("k", load);
  EXPECT_EQ(loads.load(), 2);
}

TEST_P(CacheContract, LoaderErrorIsReturnedAndNotCached) {
  std::atomic<int> loads{0};
  Loader failing = contract_test::CountingLoader(
      loads, core::Error::Make(core::Errc::kNotFound, "product not found"));
  core::Result<std::string> r = GetOrLoad("k", failing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kNotFound);
  EXPECT_EQ(r.error().message, "product not found");
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_FALSE(GetOrLoad("k", failing));
  EXPECT_EQ(loads.load(), 2);  // the error was not remembered
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", contract_test::CountingLoader(loads, std::string("back")))), "back");
}

TEST_P(CacheContract, StampedeRunsTheLoaderOnceAcrossThreads) {
  constexpr int kCallers = 50;
  std::atomic<int> started{0};
  std::atomic<int> loads{0};
  // Keeps the load in flight until every caller has asked for the key.
  Loader load = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    loads.fetch_add(1);
    while (started.load() < kCallers) co_await contract_test::Yield();
    for (int i = 0; i < 20; ++i) co_await contract_test::Yield();
    co_return std::string("product-json");
  };
  boost::asio::io_context io_a;
  boost::asio::io_context io_b;
  std::vector<std::optional<core::Result<std::string>>> results(kCallers);
  std::vector<char> resumed_on_own_thread(kCallers, 0);
  for (int i = 0; i < kCallers; ++i) {
    auto caller = [&, i]() -> boost::asio::awaitable<void> {
      const std::thread::id thread = std::this_thread::get_id();
      started.fetch_add(1);
      results[i] = co_await cache_->GetOrLoad("product:7", contract_test::kTtl, load);
      resumed_on_own_thread[i] = std::this_thread::get_id() == thread;
    };
    boost::asio::co_spawn(i % 2 == 0 ? io_a : io_b, caller, boost::asio::detached);
  }
  std::thread other([&] { io_b.run(); });
  io_a.run();
  other.join();

  EXPECT_EQ(loads.load(), 1);
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(results[i]->has_value()) << i;
    EXPECT_EQ(**results[i], "product-json") << i;
    EXPECT_TRUE(resumed_on_own_thread[i]) << i;
  }
  EXPECT_EQ(Get("product:7"), "product-json");
}

TEST_P(CacheContract, LoaderErrorReachesEveryWaiter) {
  constexpr int kCallers = 10;
  std::atomic<int> loads{0};
  Loader failing = contract_test::CountingLoader(
      loads, core::Error::Make(core::Errc::kUnavailable, "catalog down"), /*yields=*/5);
  boost::asio::io_context io;
  std::vector<std::optional<core::Result<std::string>>> results(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    auto caller = [&, i]() -> boost::asio::awaitable<void> {
      results[i] = co_await cache_->GetOrLoad("k", contract_test::kTtl, failing);
    };
    boost::asio::co_spawn(io, caller, boost::asio::detached);
  }
  io.run();

  EXPECT_EQ(loads.load(), 1);
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_FALSE(results[i]->has_value()) << i;
    EXPECT_EQ(results[i]->error().code, core::Errc::kUnavailable) << i;
    EXPECT_EQ(results[i]->error().message, "catalog down") << i;
  }
  EXPECT_EQ(Get("k"), std::nullopt);
}

TEST_P(CacheContract, DifferentKeysLoadIndependently) {
  std::atomic<bool> b_started{false};
  bool a_saw_b = false;
  // Key a's load finishes only once key b's load has started: if loads of
  // different keys were serialized, a would give up waiting.
  Loader load_a = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    // On a server, b's caller first waits for a round trip: real time too.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(OnServer() ? 5 : 0);
    for (int i = 0; !b_started && (i < 1'000 || std::chrono::steady_clock::now() < deadline); ++i)
      co_await contract_test::Yield();
    a_saw_b = b_started;
    co_return std::string("a");
  };
  Loader load_b = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    b_started = true;
    co_return std::string("b");
  };
  boost::asio::io_context io;
  std::optional<core::Result<std::string>> a;
  std::optional<core::Result<std::string>> b;
  auto caller_a = [&]() -> boost::asio::awaitable<void> {
    a = co_await cache_->GetOrLoad("a", contract_test::kTtl, load_a);
  };
  auto caller_b = [&]() -> boost::asio::awaitable<void> {
    b = co_await cache_->GetOrLoad("b", contract_test::kTtl, load_b);
  };
  boost::asio::co_spawn(io, caller_a, boost::asio::detached);
  boost::asio::co_spawn(io, caller_b, boost::asio::detached);
  io.run();

  EXPECT_TRUE(a_saw_b);
  ASSERT_TRUE(a && *a);
  ASSERT_TRUE(b && *b);
  EXPECT_EQ(**a, "a");
  EXPECT_EQ(**b, "b");
}

TEST_P(CacheContract, WaitersAreReleasedWhenTheLoadIsAbandoned) {
  std::atomic<int> loads{0};
  // The load parks forever; dropping the parked handler destroys the loading
  // coroutine without it ever finishing (as when its io_context goes away).
  std::optional<boost::asio::any_completion_handler<void()>> parked;
  Loader load = [&]() -> boost::asio::awaitable<core::Result<std::string>> {
    loads.fetch_add(1);
    auto park = [&](auto handler) { parked.emplace(std::move(handler)); };
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(park,
                                                                                       boost::asio::use_awaitable);
    co_return std::string("never");
  };
  boost::asio::io_context io;
  std::optional<core::Result<std::string>> waiter;
  auto loading = [&]() -> boost::asio::awaitable<void> {
    co_await cache_->GetOrLoad("k", contract_test::kTtl, load);
  };
  auto waiting = [&]() -> boost::asio::awaitable<void> {
    waiter = co_await cache_->GetOrLoad("k", contract_test::kTtl, load);
  };
  boost::asio::co_spawn(io, loading, boost::asio::detached);
  boost::asio::co_spawn(io, waiting, boost::asio::detached);
  // The load parks (a remote backend first waits for its server), then the
  // second caller waits for it.
  while (!parked.has_value() && io.run_one() > 0) {
  }
  io.poll();
  ASSERT_TRUE(parked.has_value());
  EXPECT_FALSE(waiter.has_value());

  parked.reset();
  io.run();

  ASSERT_TRUE(waiter.has_value());
  ASSERT_FALSE(waiter->has_value());
  EXPECT_EQ(waiter->error().code, core::Errc::kUnavailable);
  EXPECT_EQ(loads.load(), 1);
  // The key is not stuck: the next caller loads it.
  EXPECT_EQ(contract_test::ValueOf(GetOrLoad("k", contract_test::CountingLoader(loads, std::string("fresh")))), "fresh");
  EXPECT_EQ(loads.load(), 2);
}

}  // namespace shopd::cache

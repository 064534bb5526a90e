#include "app/ops_routes.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <vector>

namespace shopd::app {
namespace {

namespace asio = boost::asio;

// A dependency check whose answer the test releases by hand, counting calls.
struct GatedCheck {
  explicit GatedCheck(asio::io_context& io) : gate(io, asio::steady_timer::time_point::max()) {}
  ReadyCheck Fn() {
    return [this]() -> asio::awaitable<core::Result<void>> {
      ++calls;
      if (hold) {
        boost::system::error_code ec;
        co_await gate.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (fail) co_return core::Error::Make(core::Errc::kUnavailable, "db down");
      co_return core::Result<void>{};
    };
  }
  asio::steady_timer gate;
  int calls = 0;
  bool hold = false;
  bool fail = false;
};

// Starts `n` concurrent Check() calls; their results land in `out`.
void StartChecks(asio::io_context& io, CachedReadyCheck& ready, int n, std::vector<std::optional<bool>>& out) {
  for (int i = 0; i < n; ++i) {
    const size_t slot = out.size();
    out.emplace_back();
    asio::co_spawn(io, [&ready, &out, slot]() -> asio::awaitable<void> {
      auto r = co_await ready.Check();
      out[slot] = r.has_value();
    }, asio::detached);
  }
}

TEST(CachedReadyCheck, RunsTheCheckAtMostOncePerTtl) {
  asio::io_context io;
  core::ManualClock clock;
  GatedCheck db(io);
  CachedReadyCheck ready(db.Fn(), clock);
  std::vector<std::optional<bool>> results;
  for (int round = 0; round < 3; ++round) {
    StartChecks(io, ready, 50, results);
    io.run();
    io.restart();
  }
  EXPECT_EQ(db.calls, 1);
  EXPECT_EQ(ready.checks_run(), 1u);
  for (auto& r : results) EXPECT_EQ(r, true);

  clock.AdvanceMs(999);
  StartChecks(io, ready, 10, results);
  io.run();
  io.restart();
  EXPECT_EQ(db.calls, 1);

  clock.AdvanceMs(1);
  StartChecks(io, ready, 10, results);
  io.run();
  EXPECT_EQ(db.calls, 2);
}

TEST(CachedReadyCheck, AFailureIsCachedToo) {
  asio::io_context io;
  core::ManualClock clock;
  GatedCheck db(io);
  db.fail = true;
  CachedReadyCheck ready(db.Fn(), clock);
  std::vector<std::optional<bool>> results;
  StartChecks(io, ready, 20, results);
  io.run();
  io.restart();
  EXPECT_EQ(db.calls, 1);
  for (auto& r : results) EXPECT_EQ(r, false);

  db.fail = false;
  clock.AdvanceMs(1000);
  results.clear();
  StartChecks(io, ready, 1, results);
  io.run();
  EXPECT_EQ(db.calls, 2);
  EXPECT_EQ(results[0], true);
}

TEST(CachedReadyCheck, CallersDuringACheckWaitForItInsteadOfStartingAnother) {
  asio::io_context io;
  core::ManualClock clock;
  GatedCheck db(io);
  db.hold = true;
  CachedReadyCheck ready(db.Fn(), clock);
  std::vector<std::optional<bool>> results;
  StartChecks(io, ready, 30, results);
  io.poll();  // every caller is now waiting: one on the database, the rest on it
  EXPECT_EQ(db.calls, 1);
  for (auto& r : results) EXPECT_FALSE(r.has_value());

  clock.AdvanceMs(5000);  // even long after the TTL, the running check is still the one awaited
  StartChecks(io, ready, 5, results);
  io.poll();
  EXPECT_EQ(db.calls, 1);

  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.calls, 1);
  ASSERT_EQ(results.size(), 35u);
  for (auto& r : results) EXPECT_EQ(r, true);
}

}  // namespace
}  // namespace shopd::app

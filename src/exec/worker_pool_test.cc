#include "exec/worker_pool.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace shopd::exec {
namespace {

namespace asio = boost::asio;

TEST(WorkerPool, RunsOffThreadAndResumesOnCaller) {
  WorkerPool pool(2, 16);
  asio::io_context io;
  std::thread::id caller, worker, resumed;
  int value = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    caller = std::this_thread::get_id();
    core::Result<int> r = co_await pool.Run([&]() -> core::Result<int> {
      worker = std::this_thread::get_id();
      return 42;
    });
    resumed = std::this_thread::get_id();
    value = *r;
  }, asio::detached);
  io.run();
  EXPECT_EQ(value, 42);
  EXPECT_NE(caller, worker);
  EXPECT_EQ(caller, resumed);
}

TEST(WorkerPool, FullQueueFailsFastWithUnavailable) {
  WorkerPool pool(1, 1);
  std::promise<void> started, release;
  auto gate = release.get_future().share();
  asio::io_context io;
  std::vector<core::Errc> errors;
  int ok = 0;
  auto submit = [&](std::promise<void>* on_start) {
    asio::co_spawn(io, [&, on_start]() -> asio::awaitable<void> {
      auto r = co_await pool.Run([gate, on_start]() -> core::Result<int> {
        if (on_start) on_start->set_value();
        gate.wait();
        return 1;
      });
      if (r) ++ok;
      else errors.push_back(r.error().code);
    }, asio::detached);
  };
  submit(&started);
  io.poll();
  started.get_future().wait();  // the only worker is now busy
  for (int i = 0; i < 3; ++i) submit(nullptr);
  io.poll();  // one waits in the queue, two are rejected at once
  EXPECT_EQ(errors.size(), 2u);
  release.set_value();
  io.restart();
  io.run();
  EXPECT_EQ(ok, 2);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], core::Errc::kUnavailable);
  EXPECT_EQ(pool.rejected(), 2u);
}

}  // namespace
}  // namespace shopd::exec

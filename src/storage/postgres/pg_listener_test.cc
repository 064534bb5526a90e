#include "storage/postgres/pg_listener.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "storage/postgres/pg_test_util.h"

namespace shopd::storage::postgres {
namespace {

using namespace std::chrono_literals;
using shopd::testing::EventuallyTrue;

template <class T>
T Await(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(task));
}

TEST(PgListener, WakesOnNotifyAndAgainAfterItsConnectionIsKilled) {
  test_util::FreshDatabase db;
  shopd::testing::IoThread io;
  std::atomic<int> wakes{0};
  PgListener listener(io.io().get_executor(), test_util::Server().ConnInfo(db.name()), {"shopd_test"},
                      [&] { ++wakes; }, PgListenerOptions{.min_backoff = 20ms, .max_backoff = 100ms});
  listener.Start();
  ASSERT_TRUE(EventuallyTrue([&] { return listener.listening() && wakes.load() == 1; })) << "one wake on connect";

  ASSERT_TRUE(Await(db.pool().Query("NOTIFY shopd_test", {})));
  ASSERT_TRUE(EventuallyTrue([&] { return wakes.load() == 2; }));
  ASSERT_TRUE(Await(db.pool().Query("NOTIFY other_channel", {})));
  ASSERT_TRUE(Await(db.pool().Query("NOTIFY shopd_test", {})));
  ASSERT_TRUE(EventuallyTrue([&] { return wakes.load() == 3; })) << "only its own channel";

  // The listening backend dies (a database restart, a failover): it
  // reconnects and wakes once, for what it may have missed.
  auto killed = Await(db.pool().Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1'", {}));
  ASSERT_TRUE(killed) << killed.error().internal;
  ASSERT_TRUE(EventuallyTrue([&] { return wakes.load() >= 4 && listener.listening(); }));
  const int before = wakes.load();
  ASSERT_TRUE(Await(db.pool().Query("NOTIFY shopd_test", {})));
  ASSERT_TRUE(EventuallyTrue([&] { return wakes.load() == before + 1; }));

  io.Run(listener.Stop());
  EXPECT_FALSE(listener.listening());
}

TEST(PgListener, StopsWhileTheDatabaseIsUnreachable) {
  shopd::testing::IoThread io;
  std::atomic<int> wakes{0};
  PgListener listener(io.io().get_executor(), "host=127.0.0.1 port=1 connect_timeout=1", {"shopd_test"},
                      [&] { ++wakes; }, PgListenerOptions{.min_backoff = 20ms, .max_backoff = 50ms});
  listener.Start();
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(listener.listening());
  io.Run(listener.Stop());
  EXPECT_EQ(wakes.load(), 0);
}

}  // namespace
}  // namespace shopd::storage::postgres

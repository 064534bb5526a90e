#include "workers/order_saga.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "core/testing/async_test_util.h"
#include "exec/worker_pool.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_order_store.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::workers {
namespace {

using namespace std::chrono_literals;

// Answers after `latency` (cancellable, like a real client call), approving
// every charge; counts the charges that were answered and those cut short.
class SlowProvider final : public PaymentProvider {
 public:
  explicit SlowProvider(std::chrono::milliseconds latency) : latency_(latency) {}
  boost::asio::awaitable<core::Result<bool>> Charge(const storage::Order&) override {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, latency_);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) {
      ++cancelled;
      co_return core::Error::Make(core::Errc::kUnavailable, "cancelled");
    }
    ++answered;
    co_return true;
  }
  boost::asio::awaitable<core::Result<void>> Refund(const storage::Order&) override { co_return core::Result<void>{}; }
  void set_latency(std::chrono::milliseconds latency) { latency_ = latency; }
  int answered = 0;
  int cancelled = 0;

 private:
  std::chrono::milliseconds latency_;
};

class OrderSagaTest : public ::testing::Test {
 protected:
  OrderSagaTest() {
    EXPECT_TRUE(Await(catalog_.CreateProduct(storage::Product{"p1", "Mug", "", 1299, "USD", 5, 1, 1})));
    auto created = Await(orders_.CreateOrder(storage::NewOrder{"o1", "u1", "key-1", "hash", {{"p1", 2, 0}}, 1}));
    EXPECT_TRUE(created);
  }
  ~OrderSagaTest() override {
    writer_.Shutdown();
    pool_.Shutdown();
  }

  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }
  storage::Order Order() {
    auto o = Await(orders_.LoadOrder("o1"));
    if (!o) throw std::runtime_error(o.error().internal);
    return *o;
  }
  int64_t Stock() {
    auto p = Await(catalog_.GetProduct("p1"));
    if (!p) throw std::runtime_error(p.error().internal);
    return p->stock;
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  storage::sqlite::test_util::TempDir dir_{"shopd-saga-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_ = storage::sqlite::test_util::OpenOrDie(dir_.path());
  exec::WorkerPool pool_{2, 256, "saga-test"};
  storage::sqlite::SqliteWriter writer_{*db_};
  storage::sqlite::SqliteCatalogStore catalog_{*db_, pool_};
  storage::sqlite::SqliteOrderStore orders_{*db_, pool_, writer_};
};

TEST_F(OrderSagaTest, AnsweredChargeConfirms) {
  SlowProvider payments(1ms);
  OrderSaga saga(orders_, payments, clock_, 5s);
  auto finished = Await(saga.Run("o1"));
  ASSERT_TRUE(finished) << finished.error().internal;
  EXPECT_EQ(*finished, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Order().status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Stock(), 3);
}

TEST_F(OrderSagaTest, AChargeWithoutAnAnswerInTimeFailsTheRunAndTheRetryCharges) {
  SlowProvider payments(1h);
  OrderSaga saga(orders_, payments, clock_, 50ms);
  const auto started = std::chrono::steady_clock::now();
  auto timed_out = Await(saga.Run("o1"));
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().code, core::Errc::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << "the charge was abandoned, not waited out";
  EXPECT_EQ(payments.cancelled, 1) << "the provider call was cancelled";
  // Outcome unknown: nothing decided, the stock stays reserved for the retry.
  storage::Order o = Order();
  EXPECT_EQ(o.status, storage::OrderStatus::kPending);
  EXPECT_EQ(o.payment, storage::PaymentStatus::kNone);
  EXPECT_TRUE(o.stock_reserved);
  EXPECT_EQ(Stock(), 3);

  payments.set_latency(1ms);
  auto retried = Await(saga.Run("o1"));
  ASSERT_TRUE(retried) << retried.error().internal;
  EXPECT_EQ(*retried, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(payments.answered, 1);
  EXPECT_EQ(Stock(), 3) << "the retry did not reserve a second time";
}

}  // namespace
}  // namespace shopd::workers

#include "workers/order_refund.h"

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

// Fails the first `failures` refunds, then refunds; `latency` per call
// (cancellable). Counts the refunds it was asked for and the ones it did.
class FlakyRefunds final : public PaymentProvider {
 public:
  FlakyRefunds(int failures, std::chrono::milliseconds latency) : failures_(failures), latency_(latency) {}
  boost::asio::awaitable<core::Result<bool>> Charge(const storage::Order&) override { co_return true; }
  boost::asio::awaitable<core::Result<void>> Refund(const storage::Order& order) override {
    ++asked;
    last_order = order.id;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, latency_);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return core::Error::Make(core::Errc::kUnavailable, "cancelled");
    if (failures_-- > 0) co_return core::Error::Make(core::Errc::kUnavailable, "provider down");
    ++refunded;
    co_return core::Result<void>{};
  }
  void set_latency(std::chrono::milliseconds latency) { latency_ = latency; }
  int asked = 0;
  int refunded = 0;
  std::string last_order;

 private:
  int failures_;
  std::chrono::milliseconds latency_;
};

// A confirmed order o1 (2 of p1's 5 reserved), then cancelled by its owner.
class OrderRefundTest : public ::testing::Test {
 protected:
  OrderRefundTest() {
    EXPECT_TRUE(Await(catalog_.CreateProduct(storage::Product{"p1", "Mug", "", 1299, "USD", 5, 1, 1})));
    EXPECT_TRUE(Await(orders_.CreateOrder(storage::NewOrder{"o1", "u1", "key-1", "hash", {{"p1", 2, 0}}, 1})));
    EXPECT_TRUE(Await(orders_.ReserveStock("o1", 2)));
    EXPECT_EQ(Await(orders_.SettlePayment("o1", true, 3))->status, storage::OrderStatus::kConfirmed);
    auto cancelling = Await(orders_.CancelOrder("u1", "o1", 4));
    EXPECT_EQ(cancelling->status, storage::OrderStatus::kCancelling);
    EXPECT_EQ(cancelling->payment, storage::PaymentStatus::kRefundPending);
  }
  ~OrderRefundTest() override {
    writer_.Shutdown();
    pool_.Shutdown();
  }

  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }
  storage::Order Order() { return Await(orders_.LoadOrder("o1")).value(); }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  storage::sqlite::test_util::TempDir dir_{"shopd-refund-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_ = storage::sqlite::test_util::OpenOrDie(dir_.path());
  exec::WorkerPool pool_{2, 256, "refund-test"};
  storage::sqlite::SqliteWriter writer_{*db_};
  storage::sqlite::SqliteCatalogStore catalog_{*db_, pool_};
  storage::sqlite::SqliteOrderStore orders_{*db_, pool_, writer_};
};

TEST_F(OrderRefundTest, AFailedRefundFailsTheRunAndLeavesTheOrderCancellingUntilARetryRefunds) {
  FlakyRefunds payments(2, 1ms);
  OrderRefund refund(orders_, payments, clock_, 5s);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto failed = Await(refund.Run("o1"));
    ASSERT_FALSE(failed) << attempt;
    EXPECT_EQ(failed.error().code, core::Errc::kUnavailable);
    EXPECT_EQ(Order().status, storage::OrderStatus::kCancelling);
    EXPECT_EQ(Order().payment, storage::PaymentStatus::kRefundPending);
  }
  auto done = Await(refund.Run("o1"));
  ASSERT_TRUE(done) << done.error().internal;
  EXPECT_TRUE(*done);
  EXPECT_EQ(Order().status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(Order().payment, storage::PaymentStatus::kRefunded);
  EXPECT_EQ(payments.last_order, "o1") << "the provider is asked by order id";
  // A redelivered job finds nothing left to refund and asks nobody.
  auto again = Await(refund.Run("o1"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(payments.asked, 3);
  EXPECT_EQ(payments.refunded, 1);
  EXPECT_EQ(Await(catalog_.GetProduct("p1"))->stock, 5) << "the cancellation gave the stock back once";
}

TEST_F(OrderRefundTest, ARefundWithoutAnAnswerInTimeIsAbandonedAndRetried) {
  FlakyRefunds payments(0, 1h);
  OrderRefund refund(orders_, payments, clock_, 50ms);
  auto timed_out = Await(refund.Run("o1"));
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().code, core::Errc::kUnavailable);
  EXPECT_EQ(Order().payment, storage::PaymentStatus::kRefundPending);
  payments.set_latency(1ms);
  auto done = Await(refund.Run("o1"));
  ASSERT_TRUE(done) << done.error().internal;
  EXPECT_EQ(Order().status, storage::OrderStatus::kCancelled);
}

TEST_F(OrderRefundTest, AnUnpaidOrderHasNothingToRefund) {
  ASSERT_TRUE(Await(orders_.CreateOrder(storage::NewOrder{"o2", "u1", "key-2", "hash", {{"p1", 1, 0}}, 1})));
  ASSERT_EQ(Await(orders_.CancelOrder("u1", "o2", 5))->status, storage::OrderStatus::kCancelled);
  FlakyRefunds payments(0, 1ms);
  OrderRefund refund(orders_, payments, clock_, 5s);
  auto nothing = Await(refund.Run("o2"));
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing);
  EXPECT_EQ(payments.asked, 0);
}

}  // namespace
}  // namespace shopd::workers

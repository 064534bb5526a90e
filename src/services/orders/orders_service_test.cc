#include "services/orders/orders_service.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "core/testing/async_test_util.h"
#include "exec/worker_pool.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_order_store.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::services {
namespace {

// The service over the real SQLite stores and the in-process limiter, with a
// hand-moved clock: the limits are exercised without waiting.
class OrdersServiceTest : public ::testing::Test {
 protected:
  OrdersServiceTest() {
    EXPECT_TRUE(Await(catalog_.CreateProduct(storage::Product{"p1", "Mug", "", 1299, "USD", 1000, 1, 1})));
  }
  ~OrdersServiceTest() override {
    writer_.Shutdown();
    pool_.Shutdown();
  }

  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }
  OrdersService& Service(OrdersConfig config) {
    service_ = std::make_unique<OrdersService>(config, orders_, limiter_, clock_);
    return *service_;
  }
  core::Result<storage::CreatedOrder> Place(const std::string& key, int64_t quantity = 1,
                                            const core::Principal& who = {"u1", "user"}) {
    return Await(service_->Place(who, key, {OrderLine{"p1", quantity}}));
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  storage::sqlite::test_util::TempDir dir_{"shopd-orders-service-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_ = storage::sqlite::test_util::OpenOrDie(dir_.path());
  exec::WorkerPool pool_{2, 256, "orders-test"};
  storage::sqlite::SqliteWriter writer_{*db_};
  storage::sqlite::SqliteCatalogStore catalog_{*db_, pool_};
  storage::sqlite::SqliteOrderStore orders_{*db_, pool_, writer_};
  ratelimit::MemoryRateLimiter limiter_{clock_};
  std::unique_ptr<OrdersService> service_;
};

TEST_F(OrdersServiceTest, TheRateAllowsTheBurstThenOneOrderPerShareOfTheMinute) {
  Service({.orders_per_minute = 10, .order_burst = 20, .max_pending_orders_per_user = 1000});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Place("k" + std::to_string(i))) << i;
  auto refused = Place("k20");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::kRateLimited);
  EXPECT_EQ(refused.error().type, "order-rate-limited");
  EXPECT_EQ(refused.error().retry_after_s, 6);  // 10 a minute: one every 6 s
  // Another user has a budget of their own.
  EXPECT_TRUE(Place("k20", 1, {"u2", "user"}));

  clock_.AdvanceMs(5'999);
  EXPECT_FALSE(Place("k20"));
  clock_.AdvanceMs(1);
  EXPECT_TRUE(Place("k20"));
  EXPECT_FALSE(Place("k21"));
  clock_.AdvanceMs(6'000);
  EXPECT_TRUE(Place("k21"));
}

TEST_F(OrdersServiceTest, ARetryOverTheRateIsStillAnsweredWithTheOrderAsAccepted) {
  Service({.orders_per_minute = 1, .order_burst = 1, .max_pending_orders_per_user = 1000});
  auto first = Place("k1");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->replayed);
  // The saga confirms it meanwhile; the retry still answers the accepted order.
  ASSERT_TRUE(Await(orders_.ReserveStock(first->order.id, 2)));
  ASSERT_EQ(Await(orders_.SettlePayment(first->order.id, true, 3))->status, storage::OrderStatus::kConfirmed);

  auto again = Place("k1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->order.id, first->order.id);
  EXPECT_EQ(again->order.status, storage::OrderStatus::kPending);
  EXPECT_EQ(again->order.payment, storage::PaymentStatus::kNone);
  EXPECT_EQ(again->order.updated_at, again->order.created_at);
  // The same key with another body is a reuse, whatever the rate says.
  EXPECT_EQ(Place("k1", 2).error().code, core::Errc::kUnprocessable);
  // A new order is refused.
  EXPECT_EQ(Place("k2").error().type, "order-rate-limited");
}

TEST_F(OrdersServiceTest, PendingOrdersAreCappedPerUserUntilOneFinishes) {
  Service({.orders_per_minute = 60'000, .order_burst = 1000, .max_pending_orders_per_user = 3});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Place("k" + std::to_string(i))->order.id);
  auto refused = Place("k3");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::kRateLimited);
  EXPECT_EQ(refused.error().type, "too-many-pending-orders");
  EXPECT_FALSE(Await(orders_.FindOrderByKey("u1", "k3")).value()) << "the refused order was rolled back";
  // A retry of a placed order is not a new pending order.
  auto replay = Place("k0");
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->replayed);
  // Other users are not affected.
  EXPECT_TRUE(Place("k3", 1, {"u2", "user"}));

  // Confirmed by the saga: a slot is free again.
  ASSERT_TRUE(Await(orders_.ReserveStock(ids[0], 2)));
  ASSERT_EQ(Await(orders_.SettlePayment(ids[0], true, 3))->status, storage::OrderStatus::kConfirmed);
  EXPECT_TRUE(Place("k3"));
  EXPECT_FALSE(Place("k4"));
  // Cancelled: another one.
  ASSERT_TRUE(Await(service_->Cancel({"u1", "user"}, ids[1])));
  EXPECT_TRUE(Place("k4"));
  EXPECT_FALSE(Place("k5"));
}

TEST_F(OrdersServiceTest, CancellingAPaidOrderWaitsForItsRefundAndAnUnpaidOneIsCancelledAtOnce) {
  Service({.orders_per_minute = 60'000, .order_burst = 1000, .max_pending_orders_per_user = 1000});
  const core::Principal owner{"u1", "user"};
  auto unpaid = Place("k1", 2);
  ASSERT_TRUE(unpaid);
  auto cancelled = Await(service_->Cancel(owner, unpaid->order.id));
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(cancelled->payment, storage::PaymentStatus::kNone);

  auto paid = Place("k2", 3);
  ASSERT_TRUE(Await(orders_.ReserveStock(paid->order.id, 2)));
  ASSERT_EQ(Await(orders_.SettlePayment(paid->order.id, true, 3))->status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Await(catalog_.GetProduct("p1"))->stock, 997);
  auto cancelling = Await(service_->Cancel(owner, paid->order.id));
  ASSERT_TRUE(cancelling);
  EXPECT_EQ(cancelling->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(cancelling->payment, storage::PaymentStatus::kRefundPending);
  EXPECT_EQ(Await(catalog_.GetProduct("p1"))->stock, 1000) << "the stock comes back at once";
  // Asking again changes nothing while the refund is on its way; another user sees no order.
  EXPECT_EQ(Await(service_->Cancel(owner, paid->order.id))->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(Await(service_->Cancel({"u2", "user"}, paid->order.id)).error().code, core::Errc::kNotFound);
  ASSERT_EQ(Await(orders_.CompleteRefund(paid->order.id, 4))->status, storage::OrderStatus::kCancelled);
  auto seen = Await(service_->Get(owner, paid->order.id));
  EXPECT_EQ(seen->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(seen->payment, storage::PaymentStatus::kRefunded);
  EXPECT_EQ(Await(service_->Cancel(owner, paid->order.id))->status, storage::OrderStatus::kCancelled);
}

}  // namespace
}  // namespace shopd::services

// storage: the behaviour every CatalogStore + OrderStore backend must show.
// A backend's test includes this once and instantiates it:
//   INSTANTIATE_TEST_SUITE_P(Backends, OrderStoreContract, ::testing::Values(MakeSqlite), NameOf);
// Its factory returns both stores over one fresh database.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "core/random.h"
#include "core/testing/async_test_util.h"
#include "storage/catalog_store.h"
#include "storage/order_store.h"

namespace shopd::storage {

// One event the stores wrote to the backend's outbox.
struct OutboxRow {
  std::string topic;
  std::string key;
  std::string payload;
};

struct OrderStoreHarness {
  virtual ~OrderStoreHarness() = default;
  virtual CatalogStore& catalog() = 0;
  virtual OrderStore& orders() = 0;
  // The outbox rows written since the last call, in commit order; they are
  // removed (nothing relays them in these tests).
  virtual std::vector<OutboxRow> TakeOutbox() = 0;
  // From now on every outbox write fails inside the database (as a full disk
  // or a broken trigger would), so the change it belongs to must not commit.
  virtual void BreakOutbox() = 0;
  // Runs one SQL statement on the backend's database directly, past the
  // store's own checks (to show the database itself refuses a change).
  virtual core::Result<void> ExecRaw(std::string sql) = 0;
};

struct OrderStoreBackend {
  std::string name;
  std::function<std::unique_ptr<OrderStoreHarness>()> make;
};

namespace order_contract {
template <class T>
T Await(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(task));
}
}  // namespace order_contract

class OrderStoreContract : public ::testing::TestWithParam<OrderStoreBackend> {
 protected:
  void SetUp() override { h_ = GetParam().make(); }
  CatalogStore& catalog() { return h_->catalog(); }
  OrderStore& orders() { return h_->orders(); }
  template <class T>
  T Await(boost::asio::awaitable<T> t) { return order_contract::Await(std::move(t)); }

  Product AddProduct(int64_t price, int64_t stock, std::string currency = "USD") {
    Product p{core::NewUuid(), "Widget", "", price, currency, stock, 1, 1};
    auto r = Await(catalog().CreateProduct(p));
    EXPECT_TRUE(r);
    return p;
  }
  NewOrder MakeOrder(const std::string& user, const std::string& key, std::vector<OrderItem> items) {
    return NewOrder{core::NewUuid(), user, key, "hash-" + key, std::move(items), 1000};
  }
  int64_t Stock(const std::string& id) { return Await(catalog().GetProduct(id))->stock; }
  // The order events (product.changed rows aside) written since the last call.
  std::vector<OutboxRow> OrderEvents() {
    std::vector<OutboxRow> out;
    for (auto& row : h_->TakeOutbox())
      if (row.topic.rfind("order.", 0) == 0) out.push_back(std::move(row));
    return out;
  }
  // Exactly one event, for `order`, on `topic`, whose payload names the order,
  // its user and `status`.
  void ExpectOneEvent(const std::string& topic, const Order& order, const std::string& status) {
    auto events = OrderEvents();
    ASSERT_EQ(events.size(), 1u) << "after the change to " << status << " (topic " << topic << ")";
    EXPECT_EQ(events[0].topic, topic);
    EXPECT_EQ(events[0].key, order.id);
    boost::system::error_code ec;
    auto payload = boost::json::parse(events[0].payload, ec);
    ASSERT_FALSE(ec) << events[0].payload;
    const auto& o = payload.as_object();
    EXPECT_EQ(o.at("order_id").as_string(), order.id);
    EXPECT_EQ(o.at("user_id").as_string(), order.user_id);
    EXPECT_EQ(o.at("status").as_string(), status);
  }

  std::unique_ptr<OrderStoreHarness> h_;
};

// Bypassing the store's own checks, the database itself refuses every illegal
// move. (`(1 = 0)` is false as a boolean and as an integer, for every backend.)
TEST_P(OrderStoreContract, TheDatabaseRefusesIllegalTransitions) {
  Product p{"p1", "Widget", "", 100, "USD", 5, 1, 1};
  ASSERT_TRUE(Await(catalog().CreateProduct(p)));
  ASSERT_TRUE(Await(orders().CreateOrder(NewOrder{"o1", "u1", "k", "h", {{"p1", 1, 0}}, 1})));
  ASSERT_TRUE(Await(orders().CancelOrder("u1", "o1", 2)));
  auto set = [&](const char* sql) { return h_->ExecRaw(sql).has_value(); };
  EXPECT_FALSE(set("UPDATE orders SET status = 'confirmed' WHERE id = 'o1'"));
  EXPECT_FALSE(set("UPDATE orders SET status = 'pending' WHERE id = 'o1'"));
  EXPECT_FALSE(set("UPDATE orders SET status = 'shipped' WHERE id = 'o1'"));
  EXPECT_TRUE(set("UPDATE orders SET status = 'cancelled' WHERE id = 'o1'"));  // unchanged is fine
  EXPECT_FALSE(set("UPDATE products SET stock = -1 WHERE id = 'p1'"));
  EXPECT_FALSE(set("UPDATE orders SET payment = 'approved' WHERE id = 'o1'")) << "a cancelled order keeps no money";

  // A paid order: never cancelled without its refund.
  ASSERT_TRUE(Await(orders().CreateOrder(NewOrder{"o2", "u1", "k2", "h", {{"p1", 1, 0}}, 1})));
  ASSERT_TRUE(Await(orders().ReserveStock("o2", 2)));
  ASSERT_EQ(Await(orders().SettlePayment("o2", true, 3))->status, OrderStatus::kConfirmed);
  EXPECT_FALSE(set("UPDATE orders SET status = 'cancelled', stock_reserved = (1 = 0) WHERE id = 'o2'"));
  EXPECT_FALSE(set("UPDATE orders SET payment = 'declined' WHERE id = 'o2'")) << "a decision is never rewritten";
  ASSERT_EQ(Await(orders().CancelOrder("u1", "o2", 4))->status, OrderStatus::kCancelling);
  EXPECT_FALSE(set("UPDATE orders SET status = 'cancelled' WHERE id = 'o2'")) << "not before the refund";
  EXPECT_FALSE(set("UPDATE orders SET status = 'confirmed' WHERE id = 'o2'"));
  EXPECT_FALSE(set("UPDATE orders SET payment = 'approved' WHERE id = 'o2'"));
  EXPECT_TRUE(set("UPDATE orders SET status = 'cancelled', payment = 'refunded' WHERE id = 'o2'"));
  EXPECT_FALSE(set("UPDATE orders SET payment = 'refund_pending' WHERE id = 'o2'")) << "a refund is never undone";
}

TEST_P(OrderStoreContract, EveryStatusChangeWritesExactlyOneEvent) {
  auto a = AddProduct(100, 10);
  // pending -> confirmed -> cancelling -> cancelled
  auto created = *Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 0}})));
  ExpectOneEvent("order.created", created.order, "pending");
  const std::string id = created.order.id;
  ASSERT_EQ(Await(orders().ReserveStock(id, 2000))->outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(*Await(orders().RecordPayment(id, true)), storage::PaymentStatus::kApproved);
  EXPECT_TRUE(OrderEvents().empty()) << "reserving and paying change no status";
  auto confirmed = *Await(orders().ConfirmOrder(id, 3000));
  ExpectOneEvent("order.confirmed", confirmed, "confirmed");
  ASSERT_TRUE(Await(orders().ConfirmOrder(id, 3001)));
  EXPECT_TRUE(OrderEvents().empty()) << "a redelivered confirmation writes nothing";
  auto cancelling = *Await(orders().CancelOrder("u1", id, 4000));
  ExpectOneEvent(std::string(kRefundRequestedTopic), cancelling, "cancelling");
  auto cancelled = *Await(orders().CompleteRefund(id, 5000));
  ExpectOneEvent("order.cancelled", cancelled, "cancelled");
  ASSERT_TRUE(Await(orders().CancelOrder("u1", id, 5001)));
  ASSERT_TRUE(Await(orders().CompleteRefund(id, 5002)));
  EXPECT_TRUE(OrderEvents().empty()) << "repeated cancel and refund write nothing";

  // pending -> rejected (declined), pending -> rejected (out of stock), pending -> cancelled
  auto declined = *Await(orders().CreateOrder(MakeOrder("u1", "k2", {{a.id, 1, 0}})));
  OrderEvents();
  ASSERT_EQ(Await(orders().ReserveStock(declined.order.id, 6000))->outcome, ReserveOutcome::kReserved);
  auto rejected = *Await(orders().SettlePayment(declined.order.id, false, 6001));
  ExpectOneEvent("order.rejected", rejected, "rejected");
  auto too_many = *Await(orders().CreateOrder(MakeOrder("u1", "k3", {{a.id, 1000, 0}})));
  OrderEvents();
  auto out_of_stock = Await(orders().ReserveStock(too_many.order.id, 7000));
  ASSERT_EQ(out_of_stock->outcome, ReserveOutcome::kOutOfStock);
  ExpectOneEvent("order.rejected", out_of_stock->order, "rejected");
  auto dropped = *Await(orders().CreateOrder(MakeOrder("u1", "k4", {{a.id, 1, 0}})));
  OrderEvents();
  auto cancelled_pending = *Await(orders().CancelOrder("u1", dropped.order.id, 8000));
  ExpectOneEvent("order.cancelled", cancelled_pending, "cancelled");

  // An idempotent replay of a create writes nothing.
  ASSERT_TRUE(Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 0}}))));
  EXPECT_TRUE(OrderEvents().empty());
}

TEST_P(OrderStoreContract, AFailedOutboxWriteRollsTheWholeChangeBack) {
  auto a = AddProduct(100, 10);
  auto created = *Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 0}})));
  const std::string id = created.order.id;
  ASSERT_EQ(Await(orders().ReserveStock(id, 2000))->outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(*Await(orders().RecordPayment(id, true)), storage::PaymentStatus::kApproved);
  auto pending = *Await(orders().CreateOrder(MakeOrder("u1", "k2", {{a.id, 1, 0}})));
  h_->TakeOutbox();
  h_->BreakOutbox();

  // No order without its order.created event.
  EXPECT_FALSE(Await(orders().CreateOrder(MakeOrder("u1", "k3", {{a.id, 1, 0}}))));
  EXPECT_FALSE(*Await(orders().FindOrderByKey("u1", "k3")));
  // No confirmation, rejection or cancellation without its event.
  EXPECT_FALSE(Await(orders().ConfirmOrder(id, 3000)));
  EXPECT_FALSE(Await(orders().CancelOrder("u1", pending.order.id, 3001)));
  EXPECT_FALSE(Await(orders().CancelOrder("u1", id, 3002)));
  EXPECT_FALSE(Await(orders().RejectOrder(id, "payment_declined", 3003)));
  auto still = *Await(orders().LoadOrder(id));
  EXPECT_EQ(still.status, storage::OrderStatus::kPending);
  EXPECT_TRUE(still.stock_reserved);
  EXPECT_EQ(still.payment, storage::PaymentStatus::kApproved);
  EXPECT_EQ(Await(orders().LoadOrder(pending.order.id))->status, storage::OrderStatus::kPending);
  EXPECT_EQ(Stock(a.id), 8) << "no stock released by a change that did not commit";
  EXPECT_TRUE(h_->TakeOutbox().empty());
}

TEST_P(OrderStoreContract, CatalogCrudAndPaging) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(AddProduct(100 + i, 10).id);
  std::sort(ids.begin(), ids.end());
  auto first = Await(catalog().ListProducts("", 2));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].id, ids[0]);
  ASSERT_TRUE(first->next_after_id);
  auto rest = Await(catalog().ListProducts(*first->next_after_id, 10));
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->items.size(), 3u);
  EXPECT_FALSE(rest->next_after_id);
  Product p = *Await(catalog().GetProduct(ids[0]));
  p.price_cents = 999;
  p.updated_at = 5;
  auto updated = Await(catalog().UpdateProduct(p));
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->price_cents, 999);
  EXPECT_EQ(Await(catalog().GetProduct("nope")).error().code, core::Errc::kNotFound);
  p.id = "missing";
  EXPECT_EQ(Await(catalog().UpdateProduct(p)).error().code, core::Errc::kNotFound);
}

TEST_P(OrderStoreContract, CreatePricesFromCatalogAndIsIdempotent) {
  auto a = AddProduct(250, 10), b = AddProduct(100, 10);
  auto created = Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 1}, {b.id, 1, 1}})));
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->replayed);
  EXPECT_EQ(created->order.status, storage::OrderStatus::kPending);
  EXPECT_EQ(created->order.total_cents, 600);  // client-sent prices (1) are ignored
  EXPECT_EQ(created->order.currency, "USD");
  auto again = Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 1}, {b.id, 1, 1}})));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->order.id, created->order.id);
  NewOrder different = MakeOrder("u1", "k1", {{a.id, 3, 0}});
  different.request_hash = "other";
  EXPECT_EQ(Await(orders().CreateOrder(different)).error().code, core::Errc::kUnprocessable);
  // The same key from another user is another order.
  auto other = Await(orders().CreateOrder(MakeOrder("u2", "k1", {{a.id, 1, 0}})));
  ASSERT_TRUE(other);
  EXPECT_NE(other->order.id, created->order.id);
}

TEST_P(OrderStoreContract, UnknownProductAndMixedCurrencyAreRejected) {
  auto usd = AddProduct(100, 1), eur = AddProduct(100, 1, "EUR");
  auto unknown = Await(orders().CreateOrder(MakeOrder("u1", "k1", {{"nope", 1, 0}})));
  ASSERT_FALSE(unknown);
  ASSERT_EQ(unknown.error().field_errors.size(), 1u);
  EXPECT_EQ(unknown.error().field_errors[0].field, "items[0].product_id");
  EXPECT_FALSE(Await(orders().CreateOrder(MakeOrder("u1", "k2", {{usd.id, 1, 0}, {eur.id, 1, 0}}))));
  EXPECT_FALSE(Await(orders().GetOrder("u1", "whatever")));
}

TEST_P(OrderStoreContract, OwnersOnly) {
  auto a = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 1, 0}})));
  EXPECT_TRUE(Await(orders().GetOrder("u1", o.order.id)));
  EXPECT_EQ(Await(orders().GetOrder("u2", o.order.id)).error().code, core::Errc::kNotFound);
  EXPECT_EQ(Await(orders().CancelOrder("u2", o.order.id, 2000)).error().code, core::Errc::kNotFound);
}

TEST_P(OrderStoreContract, SagaStepsAreIdempotent) {
  auto a = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 2, 0}})));
  const std::string id = o.order.id;
  EXPECT_EQ(Await(orders().ReserveStock(id, 2000))->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Await(orders().ReserveStock(id, 2001))->outcome, ReserveOutcome::kReserved);  // redelivery
  EXPECT_EQ(Stock(a.id), 3);
  EXPECT_EQ(*Await(orders().RecordPayment(id, true)), storage::PaymentStatus::kApproved);
  EXPECT_EQ(*Await(orders().RecordPayment(id, false)), storage::PaymentStatus::kApproved);  // first decision wins
  EXPECT_EQ(Await(orders().ConfirmOrder(id, 3000))->status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Await(orders().ConfirmOrder(id, 3001))->status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Await(orders().ReserveStock(id, 3002))->outcome, ReserveOutcome::kNotPending);
  EXPECT_EQ(Await(orders().RejectOrder(id, "payment_declined", 3003))->status, storage::OrderStatus::kConfirmed);  // no-op
  EXPECT_EQ(Stock(a.id), 3);
  // confirmed -> cancelling releases the stock once and waits for the refund.
  auto cancelling = Await(orders().CancelOrder("u1", id, 4000));
  EXPECT_EQ(cancelling->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(cancelling->payment, storage::PaymentStatus::kRefundPending);
  EXPECT_FALSE(cancelling->stock_reserved);
  EXPECT_EQ(Await(orders().CancelOrder("u1", id, 4001))->status, storage::OrderStatus::kCancelling);
  EXPECT_EQ(Stock(a.id), 5);
  // The refund went through: cancelled, once.
  auto refunded = Await(orders().CompleteRefund(id, 5000));
  EXPECT_EQ(refunded->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(refunded->payment, storage::PaymentStatus::kRefunded);
  EXPECT_EQ(Await(orders().CompleteRefund(id, 5001))->updated_at, 5000) << "a repeated refund changes nothing";
  EXPECT_EQ(Await(orders().CancelOrder("u1", id, 5002))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(Await(orders().GetOrder("u1", id))->payment, storage::PaymentStatus::kRefunded);
  EXPECT_EQ(Stock(a.id), 5);
}

TEST_P(OrderStoreContract, AnApprovalThatArrivesAfterTheCancellationIsRefunded) {
  auto a = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 2, 0}})));
  const std::string id = o.order.id;
  ASSERT_EQ(Await(orders().ReserveStock(id, 2000))->outcome, ReserveOutcome::kReserved);
  // Cancelled while the charge is in flight: nothing was paid yet.
  auto cancelled = Await(orders().CancelOrder("u1", id, 2001));
  EXPECT_EQ(cancelled->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(cancelled->payment, storage::PaymentStatus::kNone);
  EXPECT_EQ(Stock(a.id), 5);
  // The provider took the money after all: it is owed back, never kept.
  auto late = Await(orders().SettlePayment(id, true, 2002));
  EXPECT_EQ(late->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(late->payment, storage::PaymentStatus::kRefundPending);
  EXPECT_EQ(Await(orders().CompleteRefund(id, 2003))->payment, storage::PaymentStatus::kRefunded);
  EXPECT_EQ(Await(orders().GetOrder("u1", id))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(Stock(a.id), 5);
}

TEST_P(OrderStoreContract, OnlyAPendingRefundCanBeCompleted) {
  auto a = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 1, 0}})));
  EXPECT_EQ(Await(orders().CompleteRefund(o.order.id, 2000)).error().code, core::Errc::kConflict);
  ASSERT_EQ(Await(orders().CancelOrder("u1", o.order.id, 2001))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(Await(orders().CompleteRefund(o.order.id, 2002)).error().code, core::Errc::kConflict);
  EXPECT_EQ(Await(orders().CompleteRefund("no-such-order", 2003)).error().code, core::Errc::kNotFound);
}

TEST_P(OrderStoreContract, DeclinedPaymentReleasesStock) {
  auto a = AddProduct(100, 5), b = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 2, 0}, {b.id, 3, 0}})));
  EXPECT_EQ(Await(orders().ReserveStock(o.order.id, 2000))->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Stock(a.id), 3);
  EXPECT_EQ(Stock(b.id), 2);
  EXPECT_EQ(*Await(orders().RecordPayment(o.order.id, false)), storage::PaymentStatus::kDeclined);
  auto rejected = Await(orders().RejectOrder(o.order.id, "payment_declined", 3000));
  EXPECT_EQ(rejected->status, storage::OrderStatus::kRejected);
  EXPECT_EQ(rejected->reason, "payment_declined");
  EXPECT_EQ(Stock(a.id), 5);
  EXPECT_EQ(Stock(b.id), 5);
  // A confirmation after the rejection changes nothing; a rejected order cannot be cancelled.
  EXPECT_EQ(Await(orders().ConfirmOrder(o.order.id, 3001))->status, storage::OrderStatus::kRejected);
  EXPECT_EQ(Await(orders().CancelOrder("u1", o.order.id, 3002)).error().code, core::Errc::kConflict);
}

TEST_P(OrderStoreContract, SettlePaymentDecidesOnceAndMovesTheOrder) {
  auto a = AddProduct(100, 5);
  auto ok = *Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 0}})));
  auto bad = *Await(orders().CreateOrder(MakeOrder("u1", "k2", {{a.id, 1, 0}})));
  ASSERT_EQ(Await(orders().ReserveStock(ok.order.id, 2000))->outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(Await(orders().ReserveStock(bad.order.id, 2000))->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Stock(a.id), 2);
  EXPECT_EQ(Await(orders().SettlePayment(ok.order.id, true, 3000))->status, storage::OrderStatus::kConfirmed);
  EXPECT_EQ(Await(orders().SettlePayment(ok.order.id, false, 3001))->status, storage::OrderStatus::kConfirmed);  // decided already
  auto rejected = Await(orders().SettlePayment(bad.order.id, false, 3000));
  EXPECT_EQ(rejected->status, storage::OrderStatus::kRejected);
  EXPECT_EQ(rejected->reason, "payment_declined");
  EXPECT_EQ(Await(orders().SettlePayment(bad.order.id, true, 3001))->status, storage::OrderStatus::kRejected);
  EXPECT_EQ(Stock(a.id), 3);  // the declined order's unit came back
}

TEST_P(OrderStoreContract, ReservationIsAllOrNothing) {
  auto plenty = AddProduct(100, 10), scarce = AddProduct(100, 1);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{plenty.id, 4, 0}, {scarce.id, 2, 0}})));
  EXPECT_EQ(Await(orders().ReserveStock(o.order.id, 2000))->outcome, ReserveOutcome::kOutOfStock);
  EXPECT_EQ(Stock(plenty.id), 10);
  EXPECT_EQ(Stock(scarce.id), 1);
  auto after = *Await(orders().LoadOrder(o.order.id));
  EXPECT_EQ(after.status, storage::OrderStatus::kRejected);
  EXPECT_EQ(after.reason, "out_of_stock");
}

TEST_P(OrderStoreContract, CancelPendingNeedsNoRelease) {
  auto a = AddProduct(100, 5);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k", {{a.id, 2, 0}})));
  EXPECT_EQ(Await(orders().CancelOrder("u1", o.order.id, 2000))->status, storage::OrderStatus::kCancelled);
  EXPECT_EQ(Await(orders().ReserveStock(o.order.id, 2001))->outcome, ReserveOutcome::kNotPending);
  EXPECT_EQ(Stock(a.id), 5);
}

TEST_P(OrderStoreContract, NoOversellingUnderConcurrentReservations) {
  auto a = AddProduct(100, 10);
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(Await(orders().CreateOrder(MakeOrder("u" + std::to_string(i), "k", {{a.id, 1, 0}})))->order.id);
  std::atomic<int> reserved{0}, out{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < ids.size(); i += 4) {
        auto r = Await(orders().ReserveStock(ids[i], 2000));
        ASSERT_TRUE(r);
        (r->outcome == ReserveOutcome::kReserved ? reserved : out)++;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(reserved.load(), 10);
  EXPECT_EQ(out.load(), 40);
  EXPECT_EQ(Stock(a.id), 0);
}

TEST_P(OrderStoreContract, PendingCapHoldsUnderConcurrentCreates) {
  auto a = AddProduct(100, 1000);
  constexpr int kCap = 5;
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        NewOrder o = MakeOrder("u1", "k" + std::to_string(t) + "-" + std::to_string(i), {{a.id, 1, 0}});
        o.max_pending = kCap;
        auto r = Await(orders().CreateOrder(o));
        if (r) {
          created++;
        } else {
          EXPECT_EQ(r.error().code, core::Errc::kRateLimited);
          EXPECT_EQ(r.error().type, "too-many-pending-orders");
          refused++;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), kCap);
  EXPECT_EQ(refused.load(), 40 - kCap);

  auto capped = [&](const std::string& user, const std::string& key) {
    NewOrder o = MakeOrder(user, key, {{a.id, 1, 0}});
    o.max_pending = kCap;
    return Await(orders().CreateOrder(o));
  };
  // Another user has a cap of their own; a refused key was not kept.
  EXPECT_TRUE(capped("u2", "x"));
  EXPECT_FALSE(Await(orders().FindOrderByKey("u1", "k-late")).value());
  EXPECT_FALSE(capped("u1", "k-late"));
  // Every way out of pending frees a slot: confirmed, rejected, cancelled.
  auto page = Await(orders().ListOrders("u1", "", 10));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), static_cast<size_t>(kCap));
  const auto& pending = page->items;
  ASSERT_EQ(Await(orders().ReserveStock(pending[0].id, 2000))->outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(Await(orders().SettlePayment(pending[0].id, true, 2001))->status, storage::OrderStatus::kConfirmed);
  EXPECT_TRUE(capped("u1", "after-confirm"));
  EXPECT_FALSE(capped("u1", "k-late"));
  ASSERT_EQ(Await(orders().RejectOrder(pending[1].id, "payment_declined", 2002))->status, storage::OrderStatus::kRejected);
  EXPECT_TRUE(capped("u1", "after-reject"));
  ASSERT_EQ(Await(orders().CancelOrder("u1", pending[2].id, 2003))->status, storage::OrderStatus::kCancelled);
  EXPECT_TRUE(capped("u1", "after-cancel"));
  EXPECT_FALSE(capped("u1", "k-late"));
  // At the cap, a retry of a placed order is still answered (it is not a new one).
  auto replay = capped("u1", "after-cancel");
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->replayed);
}

TEST_P(OrderStoreContract, FindsAnOrderByItsIdempotencyKey) {
  auto a = AddProduct(100, 10);
  auto o = *Await(orders().CreateOrder(MakeOrder("u1", "k1", {{a.id, 2, 0}})));
  auto found = Await(orders().FindOrderByKey("u1", "k1"));
  ASSERT_TRUE(found);
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->order.id, o.order.id);
  EXPECT_EQ((*found)->request_hash, "hash-k1");
  ASSERT_EQ((*found)->order.items.size(), 1u);
  EXPECT_EQ((*found)->order.items[0].quantity, 2);
  EXPECT_FALSE(Await(orders().FindOrderByKey("u2", "k1")).value());
  EXPECT_FALSE(Await(orders().FindOrderByKey("u1", "k2")).value());
}

TEST_P(OrderStoreContract, ListsNewestFirstWithCursor) {
  auto a = AddProduct(100, 100);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(Await(orders().CreateOrder(MakeOrder("u1", "k" + std::to_string(i), {{a.id, 1, 0}})))->order.id);
  Await(orders().CreateOrder(MakeOrder("u2", "x", {{a.id, 1, 0}})));
  auto page = Await(orders().ListOrders("u1", "", 3));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].id, ids[4]);
  ASSERT_TRUE(page->next_cursor);
  auto rest = Await(orders().ListOrders("u1", *page->next_cursor, 3));
  ASSERT_EQ(rest->items.size(), 2u);
  EXPECT_EQ(rest->items[1].id, ids[0]);
  EXPECT_FALSE(rest->next_cursor);
  EXPECT_FALSE(Await(orders().ListOrders("u1", "garbage", 3)));
}

}  // namespace shopd::storage

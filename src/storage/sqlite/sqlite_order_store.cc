#include "storage/sqlite/sqlite_order_store.h"

#include "storage/order_rules.h"
#include "storage/sqlite/sqlite_outbox.h"
#include "storage/sqlite/product_change_outbox.h"

namespace shopd::storage::sqlite {
namespace {

using core::Errc;
using core::Error;
using core::Result;

constexpr const char* kOrderColumns =
    "id, user_id, status, reason, total_cents, currency, stock_reserved, payment, created_at, updated_at, seq";

struct Loaded {
  Order order;
  int64_t seq = 0;
};

Result<bool> LoadItems(Connection& conn, Order& o) {
  auto st = conn.Prepare("SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = ? "
                         "ORDER BY rowid");
  if (!st) return st.error();
  st->Bind(1, o.id);
  for (;;) {
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) break;
    o.items.push_back(OrderItem{st->ColumnText(0), st->ColumnInt64(1), st->ColumnInt64(2)});
  }
  return true;
}

Result<Loaded> ReadOrder(const Statement& st) {
  Loaded l;
  l.order.id = st.ColumnText(0);
  l.order.user_id = st.ColumnText(1);
  const std::string status = st.ColumnText(2), payment = st.ColumnText(7);
  auto parsed_status = ParseOrderStatus(status);
  auto parsed_payment = ParsePaymentStatus(payment);
  // The table's CHECKs allow no other value: this is a damaged database.
  if (!parsed_status || !parsed_payment)
    return Error::Make(Errc::kInternal, "internal error",
                       "order " + l.order.id + " has status '" + status + "', payment '" + payment + "'");
  l.order.status = *parsed_status;
  l.order.payment = *parsed_payment;
  l.order.reason = st.ColumnText(3);
  l.order.total_cents = st.ColumnInt64(4);
  l.order.currency = st.ColumnText(5);
  l.order.stock_reserved = st.ColumnInt64(6) != 0;
  l.order.created_at = st.ColumnInt64(8);
  l.order.updated_at = st.ColumnInt64(9);
  l.seq = st.ColumnInt64(10);
  return l;
}

// The order row without its items (the saga's settle step needs none).
Result<Order> FindHeader(Connection& conn, const std::string& id) {
  auto st = conn.Prepare(std::string("SELECT ") + kOrderColumns + " FROM orders WHERE id = ?");
  if (!st) return st.error();
  st->Bind(1, id);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return order_errors::NoSuchOrder();
  auto loaded = ReadOrder(*st);
  st->Reset();
  if (!loaded) return loaded.error();
  return std::move(loaded->order);
}

Result<Order> Find(Connection& conn, const std::string& id) {
  auto o = FindHeader(conn, id);
  if (!o) return o;
  if (auto r = LoadItems(conn, *o); !r) return r.error();
  return o;
}

Result<void> Emit(Connection& conn, std::string_view topic, const Order& o, int64_t now_ms) {
  return AppendToOutbox(conn, topic, o.id, OrderEventPayload(o), now_ms);
}

Result<void> SetStatus(Connection& conn, const std::string& id, OrderStatus status, std::string_view reason,
                       int64_t now_ms) {
  // Terminal states hold no reservation; clearing it in the same statement
  // keeps the table's invariants true at every statement boundary.
  auto st = conn.Prepare(
      "UPDATE orders SET status = ?1, reason = ?2, updated_at = ?3, "
      "stock_reserved = CASE WHEN ?1 IN ('rejected', 'cancelled') THEN 0 ELSE stock_reserved END WHERE id = ?4");
  if (!st) return st.error();
  st->Bind(1, ToString(status)).Bind(2, reason).Bind(3, now_ms).Bind(4, id);
  return st->Run();
}

// Gives reserved stock back to the catalog; the caller moves the order to a
// terminal state (which clears its reservation) in the same transaction.
Result<void> ReleaseStock(Connection& conn, const Order& o, ProductChangeOutbox& changed, int64_t now_ms) {
  if (!o.stock_reserved) return {};
  for (const auto& item : o.items) {
    auto st = conn.Prepare("UPDATE products SET stock = stock + ? WHERE id = ?");
    if (!st) return st.error();
    st->Bind(1, item.quantity).Bind(2, item.product_id);
    if (auto r = st->Run(); !r) return r.error();
    if (auto r = changed.Record(conn, item.product_id, now_ms); !r) return r;
  }
  return {};
}

Result<std::optional<KeyedOrder>> FindByKey(Connection& conn, const std::string& user_id, const std::string& key) {
  auto st = conn.Prepare(std::string("SELECT ") + kOrderColumns +
                         ", request_hash FROM orders WHERE user_id = ? AND idempotency_key = ?");
  if (!st) return st.error();
  st->Bind(1, user_id).Bind(2, key);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<KeyedOrder>();
  auto loaded = ReadOrder(*st);
  if (!loaded) return loaded.error();
  KeyedOrder found{std::move(loaded->order), st->ColumnText(11)};
  st->Reset();
  if (auto r = LoadItems(conn, found.order); !r) return r.error();
  return std::optional<KeyedOrder>(std::move(found));
}

// The user's pending orders as the database counts them (migration 5 keeps
// the count in pending_orders by trigger).
Result<int64_t> PendingOrders(Connection& conn, const std::string& user_id) {
  auto st = conn.Prepare("SELECT pending FROM pending_orders WHERE user_id = ?");
  if (!st) return st.error();
  st->Bind(1, user_id);
  auto row = st->Step();
  if (!row) return row.error();
  const int64_t pending = *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  return pending;
}

Result<CreatedOrder> Create(Connection& conn, const NewOrder& in) {
  // A repeated key answers the first result, never a second order.
  {
    auto first = FindByKey(conn, in.user_id, in.idempotency_key);
    if (!first) return first.error();
    if (*first) {
      if ((*first)->request_hash != in.request_hash) return order_errors::KeyReusedWithAnotherBody();
      return CreatedOrder{std::move((*first)->order), true};
    }
  }
  // Each item's catalog row, read in this write transaction.
  std::optional<Error> failed;
  auto priced = PriceOrder(in, [&](const std::string& id) -> std::optional<CatalogPrice> {
    auto st = conn.Prepare("SELECT price_cents, currency FROM products WHERE id = ?");
    if (!st) {
      failed = st.error();
      return std::nullopt;
    }
    st->Bind(1, id);
    auto row = st->Step();
    if (!row) {
      failed = row.error();
      return std::nullopt;
    }
    if (!*row) return std::nullopt;
    CatalogPrice price{st->ColumnInt64(0), st->ColumnText(1)};
    st->Reset();
    return price;
  });
  if (failed) return *failed;
  if (!priced) return priced.error();
  Order o = std::move(*priced);
  auto ins = conn.Prepare(
      "INSERT INTO orders (id, user_id, status, total_cents, currency, idempotency_key, request_hash, "
      "created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->Bind(1, o.id).Bind(2, o.user_id).Bind(3, o.total_cents).Bind(4, o.currency);
  ins->Bind(5, in.idempotency_key).Bind(6, in.request_hash).Bind(7, in.now_ms).Bind(8, in.now_ms);
  if (auto r = ins->Run(); !r) return r.error();
  // The insert counted itself (trigger); over the cap, this write rolls back.
  // Counted after the insert, the check also holds on a database where
  // concurrent transactions interleave: the count row serialises them.
  if (in.max_pending > 0) {
    auto pending = PendingOrders(conn, o.user_id);
    if (!pending) return pending.error();
    if (*pending > in.max_pending)
      return order_errors::TooManyPendingOrders();
  }
  for (const auto& item : o.items) {
    auto st = conn.Prepare("INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) "
                           "VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->Bind(1, o.id).Bind(2, item.product_id).Bind(3, item.quantity).Bind(4, item.unit_price_cents);
    if (auto r = st->Run(); !r) return r.error();
  }
  if (auto r = Emit(conn, "order.created", o, in.now_ms); !r) return r.error();
  return CreatedOrder{std::move(o), false};
}

// Records the payment decision once (a redelivery's answer is ignored). An
// approval that arrives for an order no longer pending (cancelled while the
// charge was in flight) is money taken for nothing: it is recorded as
// refund_pending with its `order.refund_requested` event, never as approved.
Result<void> Decide(Connection& conn, Order& o, bool approved, int64_t now_ms) {
  if (o.payment != PaymentStatus::kNone) return {};
  const bool refund = approved && o.status != OrderStatus::kPending;
  o.payment = refund ? PaymentStatus::kRefundPending : approved ? PaymentStatus::kApproved : PaymentStatus::kDeclined;
  auto st = conn.Prepare("UPDATE orders SET payment = ? WHERE id = ?");
  if (!st) return st.error();
  st->Bind(1, ToString(o.payment)).Bind(2, o.id);
  if (auto r = st->Run(); !r) return r.error();
  if (refund) return Emit(conn, kRefundRequestedTopic, o, now_ms);
  return {};
}

Result<Order> Confirm(Connection& conn, Order o, int64_t now_ms) {
  if (!CanMove(o.status, OrderStatus::kConfirmed) || !o.stock_reserved || o.payment != PaymentStatus::kApproved)
    return o;
  if (auto r = SetStatus(conn, o.id, OrderStatus::kConfirmed, "", now_ms); !r) return r.error();
  o.status = OrderStatus::kConfirmed;
  o.updated_at = now_ms;
  if (auto r = Emit(conn, "order.confirmed", o, now_ms); !r) return r.error();
  return o;
}

Result<Order> Reject(Connection& conn, Order o, const std::string& reason, int64_t now_ms,
                     ProductChangeOutbox& changed) {
  if (!CanMove(o.status, OrderStatus::kRejected)) return o;
  if (auto r = ReleaseStock(conn, o, changed, now_ms); !r) return r.error();
  if (auto r = SetStatus(conn, o.id, OrderStatus::kRejected, reason, now_ms); !r) return r.error();
  o.status = OrderStatus::kRejected;
  o.reason = reason;
  o.stock_reserved = false;
  o.updated_at = now_ms;
  if (auto r = Emit(conn, "order.rejected", o, now_ms); !r) return r.error();
  return o;
}

}  // namespace

template <class T>
Async<T> SqliteOrderStore::Announce(Async<T> write, std::shared_ptr<ProductChangeOutbox> changed) {
  Result<T> result = co_await std::move(write);
  std::vector<std::string> ids = changed->Take();
  if (result && changes_ && !ids.empty()) co_await changes_->ProductsChanged(std::move(ids));
  co_return result;
}

// Not a coroutine itself: GCC 12 destroys a lambda taken by value by a
// coroutine twice when it is moved into another lambda there.
template <class T, class Write>
Async<T> SqliteOrderStore::WriteAnnounced(Write write) {
  // Shared with the writer thread: the caller's frame may be gone before it runs.
  auto changed = std::make_shared<ProductChangeOutbox>();
  auto run = writer_.Run(
      [write = std::move(write), changed](Connection& conn) -> Result<T> { return write(conn, *changed); });
  return Announce<T>(std::move(run), std::move(changed));
}

Async<CreatedOrder> SqliteOrderStore::CreateOrder(NewOrder order) {
  return writer_.Run([order = std::move(order)](Connection& conn) { return Create(conn, order); });
}

Async<std::optional<KeyedOrder>> SqliteOrderStore::FindOrderByKey(std::string user_id, std::string idempotency_key) {
  return pool_.Run([this, user_id = std::move(user_id),
                    key = std::move(idempotency_key)]() -> Result<std::optional<KeyedOrder>> {
    return db_.WithConnection([&](Connection& conn) { return FindByKey(conn, user_id, key); });
  });
}

Async<Order> SqliteOrderStore::GetOrder(std::string user_id, std::string order_id) {
  return pool_.Run([this, user_id = std::move(user_id), order_id = std::move(order_id)]() -> Result<Order> {
    return db_.WithConnection([&](Connection& conn) -> Result<Order> {
      auto o = Find(conn, order_id);
      if (o && o->user_id != user_id) return order_errors::NoSuchOrder();
      return o;
    });
  });
}

Async<OrderPage> SqliteOrderStore::ListOrders(std::string user_id, std::string cursor, int limit) {
  return pool_.Run([this, user_id = std::move(user_id), cursor = std::move(cursor), limit]() -> Result<OrderPage> {
    int64_t before = INT64_MAX;
    if (!cursor.empty()) {
      try {
        size_t used = 0;
        before = std::stoll(cursor, &used);
        if (used != cursor.size() || before <= 0) throw std::invalid_argument("cursor");
      } catch (const std::exception&) {
        return Error::Invalid("cursor is not valid").WithType("invalid-cursor");
      }
    }
    return db_.WithConnection([&](Connection& conn) -> Result<OrderPage> {
      auto st = conn.Prepare(std::string("SELECT ") + kOrderColumns +
                             " FROM orders WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?");
      if (!st) return st.error();
      st->Bind(1, user_id).Bind(2, before).Bind(3, int64_t{limit} + 1);
      OrderPage page;
      std::vector<int64_t> seqs;
      for (;;) {
        auto row = st->Step();
        if (!row) return row.error();
        if (!*row) break;
        auto l = ReadOrder(*st);
        if (!l) return l.error();
        page.items.push_back(std::move(l->order));
        seqs.push_back(l->seq);
      }
      st->Reset();
      if (page.items.size() > static_cast<size_t>(limit)) {
        page.items.pop_back();
        page.next_cursor = std::to_string(seqs[static_cast<size_t>(limit) - 1]);
      }
      for (auto& o : page.items)
        if (auto r = LoadItems(conn, o); !r) return r.error();
      return page;
    });
  });
}

Async<Order> SqliteOrderStore::CancelOrder(std::string user_id, std::string order_id, int64_t now_ms) {
  return WriteAnnounced<Order>([user_id = std::move(user_id), order_id = std::move(order_id), now_ms](
                                   Connection& conn, ProductChangeOutbox& changed) -> Result<Order> {
    auto o = Find(conn, order_id);
    if (!o) return o.error();
    if (o->user_id != user_id) return order_errors::NoSuchOrder();
    if (o->status == OrderStatus::kCancelled || o->status == OrderStatus::kCancelling) return o;
    if (!CanMove(o->status, OrderStatus::kCancelling))
      return order_errors::NotCancellable();
    // The goods are given back at once; only the money may still be on its way.
    if (auto r = ReleaseStock(conn, *o, changed, now_ms); !r) return r.error();
    o->stock_reserved = false;
    o->updated_at = now_ms;
    if (o->payment != PaymentStatus::kApproved) {
      if (auto r = SetStatus(conn, o->id, OrderStatus::kCancelled, "", now_ms); !r) return r.error();
      o->status = OrderStatus::kCancelled;
      if (auto r = Emit(conn, "order.cancelled", *o, now_ms); !r) return r.error();
      return o;
    }
    // Paid: cancelling until the refund job has given the money back
    // (CompleteRefund). Its event, in this transaction, makes that job durable.
    auto st = conn.Prepare(
        "UPDATE orders SET status = 'cancelling', payment = 'refund_pending', stock_reserved = 0, updated_at = ? "
        "WHERE id = ?");
    if (!st) return st.error();
    st->Bind(1, now_ms).Bind(2, o->id);
    if (auto r = st->Run(); !r) return r.error();
    o->status = OrderStatus::kCancelling;
    o->payment = PaymentStatus::kRefundPending;
    if (auto r = Emit(conn, kRefundRequestedTopic, *o, now_ms); !r) return r.error();
    return o;
  });
}

Async<Order> SqliteOrderStore::CompleteRefund(std::string order_id, int64_t now_ms) {
  return writer_.Run([order_id = std::move(order_id), now_ms](Connection& conn) -> Result<Order> {
    auto o = Find(conn, order_id);
    if (!o) return o.error();
    if (o->payment == PaymentStatus::kRefunded) return o;
    if (o->payment != PaymentStatus::kRefundPending)
      return order_errors::NoRefundPending(o->payment);
    auto st = conn.Prepare(
        "UPDATE orders SET payment = 'refunded', updated_at = ?1, "
        "status = CASE WHEN status = 'cancelling' THEN 'cancelled' ELSE status END WHERE id = ?2");
    if (!st) return st.error();
    st->Bind(1, now_ms).Bind(2, o->id);
    if (auto r = st->Run(); !r) return r.error();
    o->payment = PaymentStatus::kRefunded;
    o->updated_at = now_ms;
    if (o->status == OrderStatus::kCancelling) {
      o->status = OrderStatus::kCancelled;
      if (auto r = Emit(conn, "order.cancelled", *o, now_ms); !r) return r.error();
    }
    return o;
  });
}

Async<Order> SqliteOrderStore::LoadOrder(std::string order_id) {
  return pool_.Run([this, order_id = std::move(order_id)]() -> Result<Order> {
    return db_.WithConnection([&](Connection& conn) { return Find(conn, order_id); });
  });
}

Async<Reservation> SqliteOrderStore::ReserveStock(std::string order_id, int64_t now_ms) {
  return WriteAnnounced<Reservation>([order_id = std::move(order_id), now_ms](
                                         Connection& conn, ProductChangeOutbox& changed) -> Result<Reservation> {
    auto o = Find(conn, order_id);
    if (!o) return o.error();
    if (o->status != OrderStatus::kPending) return Reservation{ReserveOutcome::kNotPending, std::move(*o)};
    if (o->stock_reserved) return Reservation{ReserveOutcome::kReserved, std::move(*o)};
    // The guarded decrement is the whole no-overselling argument: it only
    // succeeds while enough stock is left, inside one write transaction.
    // All items or none: the decrements run in a nested transaction (a
    // savepoint) that is rolled back when any item falls short.
    bool all_reserved = true;
    {
      auto take = Transaction::BeginImmediate(conn);
      if (!take) return take.error();
      for (const auto& item : o->items) {
        auto st = conn.Prepare("UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?");
        if (!st) return st.error();
        st->Bind(1, item.quantity).Bind(2, item.product_id).Bind(3, item.quantity);
        if (auto r = st->Run(); !r) return r.error();
        if (conn.Changes() == 0) {
          all_reserved = false;
          break;
        }
      }
      if (all_reserved) {
        if (auto c = take->Commit(); !c) return c.error();
        for (const auto& item : o->items)
          if (auto r = changed.Record(conn, item.product_id, now_ms); !r) return r.error();
      }
    }
    if (!all_reserved) {
      if (auto r = SetStatus(conn, o->id, OrderStatus::kRejected, "out_of_stock", now_ms); !r) return r.error();
      o->status = OrderStatus::kRejected;
      o->reason = "out_of_stock";
      if (auto r = Emit(conn, "order.rejected", *o, now_ms); !r) return r.error();
      return Reservation{ReserveOutcome::kOutOfStock, std::move(*o)};
    }
    auto st = conn.Prepare("UPDATE orders SET stock_reserved = 1, updated_at = ? WHERE id = ?");
    if (!st) return st.error();
    st->Bind(1, now_ms).Bind(2, o->id);
    if (auto r = st->Run(); !r) return r.error();
    o->stock_reserved = true;
    o->updated_at = now_ms;
    return Reservation{ReserveOutcome::kReserved, std::move(*o)};
  });
}

Async<PaymentStatus> SqliteOrderStore::RecordPayment(std::string order_id, bool approved) {
  return writer_.Run([order_id = std::move(order_id), approved](Connection& conn) -> Result<PaymentStatus> {
    auto o = FindHeader(conn, order_id);
    if (!o) return o.error();
    // No clock here: a refund request it writes is stamped with the order's last change.
    if (auto r = Decide(conn, *o, approved, o->updated_at); !r) return r.error();
    return o->payment;
  });
}

Async<Order> SqliteOrderStore::SettlePayment(std::string order_id, bool approved, int64_t now_ms) {
  return WriteAnnounced<Order>([order_id = std::move(order_id), approved, now_ms](
                                   Connection& conn, ProductChangeOutbox& changed) -> Result<Order> {
    auto o = FindHeader(conn, order_id);
    if (!o) return o.error();
    if (auto r = Decide(conn, *o, approved, now_ms); !r) return r.error();
    if (o->payment == PaymentStatus::kApproved) return Confirm(conn, std::move(*o), now_ms);
    // Only a rejection gives stock back, and only that needs the items.
    if (auto r = LoadItems(conn, *o); !r) return r.error();
    return Reject(conn, std::move(*o), "payment_declined", now_ms, changed);
  });
}

Async<Order> SqliteOrderStore::ConfirmOrder(std::string order_id, int64_t now_ms) {
  return writer_.Run([order_id = std::move(order_id), now_ms](Connection& conn) -> Result<Order> {
    auto o = Find(conn, order_id);
    if (!o) return o.error();
    return Confirm(conn, std::move(*o), now_ms);
  });
}

Async<Order> SqliteOrderStore::RejectOrder(std::string order_id, std::string reason, int64_t now_ms) {
  return WriteAnnounced<Order>([order_id = std::move(order_id), reason = std::move(reason), now_ms](
                                   Connection& conn, ProductChangeOutbox& changed) -> Result<Order> {
    auto o = Find(conn, order_id);
    if (!o) return o.error();
    return Reject(conn, std::move(*o), reason, now_ms, changed);
  });
}

}  // namespace shopd::storage::sqlite

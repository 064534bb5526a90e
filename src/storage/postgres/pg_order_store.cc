#include "storage/postgres/pg_order_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "storage/order_rules.h"
#include "storage/postgres/pg_outbox.h"
#include "storage/postgres/pg_text.h"
#include "storage/postgres/pg_transaction.h"

namespace shopd::storage::postgres {
namespace {

using core::Errc;
using core::Error;
using core::Result;
using Ms = std::chrono::milliseconds;

template <class T>
using Awaitable = boost::asio::awaitable<T>;

// Every order query selects these, in this order (ReadOrder).
#define SHOPD_ORDER_COLUMNS \
  "id, user_id, status, reason, total_cents, currency, stock_reserved, payment, created_at, updated_at, seq"

// A write's result and the products whose rows it changed, for the
// after-commit notice (storage/product_changes.h).
template <class T>
struct Announced {
  T value;
  std::vector<std::string> changed;
};

using order_errors::NoSuchOrder;

Result<Order> ReadOrder(const PgResult& r, int row) {
  Order o;
  o.id = r.Text(row, 0);
  o.user_id = r.Text(row, 1);
  const std::string status = r.Text(row, 2), payment = r.Text(row, 7);
  auto parsed_status = ParseOrderStatus(status);
  auto parsed_payment = ParsePaymentStatus(payment);
  // The table's CHECKs allow no other value: this is a damaged database.
  if (!parsed_status || !parsed_payment)
    return Error::Make(Errc::kInternal, "internal error",
                       "order " + o.id + " has status '" + status + "', payment '" + payment + "'");
  o.status = *parsed_status;
  o.payment = *parsed_payment;
  o.reason = r.Text(row, 3);
  o.total_cents = r.Int64(row, 4);
  o.currency = r.Text(row, 5);
  o.stock_reserved = r.Bool(row, 6);
  o.created_at = r.Int64(row, 8);
  o.updated_at = r.Int64(row, 9);
  return o;
}

// The items of `orders`, in the order they were placed.
Awaitable<Result<void>> LoadItems(PgConnection& conn, Ms t, std::vector<Order>& orders) {
  if (orders.empty()) co_return Result<void>{};
  ArrayLiteral ids;
  for (const Order& o : orders) ids.Add(std::string_view(o.id));
  std::vector<PgParam> params{ids.Take()};
  auto r = co_await Run(conn, t,
                        "SELECT order_id, product_id, quantity, unit_price_cents FROM order_items "
                        "WHERE order_id = ANY($1::TEXT[]) ORDER BY order_id, position",
                        std::move(params));
  if (!r) co_return r.error();
  std::map<std::string, Order*> by_id;
  for (Order& o : orders) by_id[o.id] = &o;
  for (int i = 0; i < r->rows(); ++i) {
    auto it = by_id.find(r->Text(i, 0));
    if (it != by_id.end()) it->second->items.push_back(OrderItem{r->Text(i, 1), r->Int64(i, 2), r->Int64(i, 3)});
  }
  co_return Result<void>{};
}

// The order row; `for_update` locks it until the transaction ends, so that
// concurrent steps on one order (a saga redelivery, a cancellation) run one
// after the other (NO KEY UPDATE: its id never changes, and the items'
// foreign-key checks need not wait).
Awaitable<Result<Order>> FindHeader(PgConnection& conn, Ms t, std::string id, bool for_update) {
  std::vector<PgParam> params{std::move(id)};
  auto r = co_await Run(conn, t,
                        std::string("SELECT " SHOPD_ORDER_COLUMNS " FROM orders WHERE id = $1") +
                            (for_update ? " FOR NO KEY UPDATE" : ""),
                        std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return NoSuchOrder();
  co_return ReadOrder(*r, 0);
}

Awaitable<Result<Order>> Find(PgConnection& conn, Ms t, std::string id, bool for_update) {
  auto o = co_await FindHeader(conn, t, std::move(id), for_update);
  if (!o) co_return o;
  std::vector<Order> one(1, std::move(*o));
  if (auto r = co_await LoadItems(conn, t, one); !r) co_return r.error();
  co_return std::move(one.front());
}

Awaitable<Result<void>> Emit(PgConnection& conn, Ms t, std::string_view topic, const Order& o, int64_t now_ms) {
  std::vector<OutboxEvent> events(1, OutboxEvent{std::string(topic), o.id, OrderEventPayload(o), now_ms});
  co_return co_await AppendToOutbox(conn, t, std::move(events));
}

Awaitable<Result<void>> Exec(PgConnection& conn, Ms t, std::string sql, std::vector<PgParam> params) {
  auto r = co_await Run(conn, t, std::move(sql), std::move(params));
  if (!r) co_return r.error();
  co_return Result<void>{};
}

// Moves the order to `to` and writes its event about it (`topic`), in one
// statement: the status change may take the user's pending-count row
// (trigger), which other orders of that user wait for until commit.
Awaitable<Result<void>> MoveTo(PgConnection& conn, Ms t, Order& o, OrderStatus to, std::string reason,
                               std::string_view topic, int64_t now_ms) {
  o.status = to;
  o.reason = std::move(reason);
  o.updated_at = now_ms;
  // Terminal states hold no reservation; clearing it in the same statement
  // keeps the table's invariants true at every statement boundary.
  if (to == OrderStatus::kRejected || to == OrderStatus::kCancelled) o.stock_reserved = false;
  std::vector<PgParam> params{std::string(ToString(to)), o.reason, std::to_string(now_ms), o.id};
  AddOutboxParams(params, {OutboxEvent{std::string(topic), o.id, OrderEventPayload(o), now_ms}});
  co_return co_await Exec(conn, t,
                          "WITH moved AS (UPDATE orders SET status = $1, reason = $2, updated_at = $3, "
                          "stock_reserved = CASE WHEN $1 IN ('rejected', 'cancelled') THEN false "
                          "ELSE stock_reserved END WHERE id = $4), announced AS (" +
                              OutboxInsertSql(5) + ") SELECT 1",
                          std::move(params));
}

// Locks the items' product rows in id order (so two orders sharing products
// never wait on each other in a cycle) and returns their stock. NO KEY
// UPDATE, the lock a stock update takes anyway: a new order's items check
// their foreign key with KEY SHARE locks on the same rows while that order
// holds its user's pending count, and a FOR UPDATE here would wait for them
// in a cycle (saga: product -> count; new order: count -> product).
Awaitable<Result<std::map<std::string, int64_t>>> LockProducts(PgConnection& conn, Ms t,
                                                               const std::vector<OrderItem>& items) {
  ArrayLiteral ids;
  for (const OrderItem& item : items) ids.Add(std::string_view(item.product_id));
  std::vector<PgParam> params{ids.Take()};
  auto r = co_await Run(conn, t,
                        "SELECT id, stock FROM products WHERE id = ANY($1::TEXT[]) ORDER BY id COLLATE \"C\" "
                        "FOR NO KEY UPDATE",
                        std::move(params));
  if (!r) co_return r.error();
  std::map<std::string, int64_t> stock;
  for (int i = 0; i < r->rows(); ++i) stock[r->Text(i, 0)] = r->Int64(i, 1);
  co_return stock;
}

// Adds `sign` * quantity to each item's product (rows already locked) and
// records the change in the outbox, in one statement, so that the product
// rows, which every order of a product waits for, are held locked for one
// statement and the commit. A `reserving_order` (not NULL) is marked as
// holding its stock in the same statement.
Awaitable<Result<void>> MoveStock(PgConnection& conn, Ms t, const std::vector<OrderItem>& items, int64_t sign,
                                  int64_t now_ms, std::vector<std::string>& changed,
                                  PgParam reserving_order = std::nullopt) {
  ArrayLiteral ids, deltas;
  std::vector<std::string> touched;
  for (const OrderItem& item : items) {
    ids.Add(std::string_view(item.product_id));
    deltas.Add(sign * item.quantity);
    touched.push_back(item.product_id);
  }
  std::vector<PgParam> params{ids.Take(), deltas.Take(), std::to_string(now_ms), std::move(reserving_order)};
  AddOutboxParams(params, ProductChangedEvents(touched, now_ms));
  if (auto r = co_await Exec(conn, t,
                             "WITH moved AS (UPDATE products p SET stock = p.stock + u.delta "
                             "FROM unnest($1::TEXT[], $2::BIGINT[]) AS u(id, delta) WHERE p.id = u.id), "
                             "reserved AS (UPDATE orders SET stock_reserved = true, updated_at = $3::BIGINT "
                             "WHERE id = $4), announced AS (" +
                                 OutboxInsertSql(5) + ") SELECT 1",
                             std::move(params));
      !r)
    co_return r.error();
  changed.insert(changed.end(), touched.begin(), touched.end());
  co_return Result<void>{};
}

// Gives reserved stock back; the caller moves the order to a terminal state
// (which clears its reservation) in the same transaction.
Awaitable<Result<void>> ReleaseStock(PgConnection& conn, Ms t, const Order& o, int64_t now_ms,
                                     std::vector<std::string>& changed) {
  if (!o.stock_reserved || o.items.empty()) co_return Result<void>{};
  if (auto locked = co_await LockProducts(conn, t, o.items); !locked) co_return locked.error();
  co_return co_await MoveStock(conn, t, o.items, +1, now_ms, changed);
}

Awaitable<Result<std::optional<KeyedOrder>>> FindByKey(PgConnection& conn, Ms t, std::string user_id,
                                                       std::string key) {
  std::vector<PgParam> params{std::move(user_id), std::move(key)};
  auto r = co_await Run(conn, t,
                        "SELECT " SHOPD_ORDER_COLUMNS ", request_hash FROM orders "
                        "WHERE user_id = $1 AND idempotency_key = $2",
                        std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return std::optional<KeyedOrder>();
  auto o = ReadOrder(*r, 0);
  if (!o) co_return o.error();
  std::vector<Order> one(1, std::move(*o));
  if (auto items = co_await LoadItems(conn, t, one); !items) co_return items.error();
  co_return std::optional<KeyedOrder>(KeyedOrder{std::move(one.front()), r->Text(0, 11)});
}

// The first order placed with this key, or 422 when the body differs.
Result<CreatedOrder> Replay(KeyedOrder first, const NewOrder& in) {
  if (first.request_hash != in.request_hash) return order_errors::KeyReusedWithAnotherBody();
  return CreatedOrder{std::move(first.order), true};
}

// Prices the items from the catalog (read in this transaction), or the
// field errors that refuse the order.
Awaitable<Result<Order>> Price(PgConnection& conn, Ms t, const NewOrder& in) {
  ArrayLiteral ids;
  for (const OrderItem& item : in.items) ids.Add(std::string_view(item.product_id));
  std::vector<PgParam> params{ids.Take()};
  auto r = co_await Run(conn, t, "SELECT id, price_cents, currency FROM products WHERE id = ANY($1::TEXT[])",
                        std::move(params));
  if (!r) co_return r.error();
  std::map<std::string, CatalogPrice> catalog;
  for (int i = 0; i < r->rows(); ++i) catalog[r->Text(i, 0)] = CatalogPrice{r->Int64(i, 1), r->Text(i, 2)};
  co_return PriceOrder(in, [&](const std::string& id) -> std::optional<CatalogPrice> {
    auto found = catalog.find(id);
    if (found == catalog.end()) return std::nullopt;
    return found->second;
  });
}

Awaitable<Result<CreatedOrder>> Create(PgConnection& conn, Ms t, NewOrder in) {
  // A repeated key answers the first result, never a second order.
  auto first = co_await FindByKey(conn, t, in.user_id, in.idempotency_key);
  if (!first) co_return first.error();
  if (*first) co_return Replay(std::move(**first), in);
  auto priced = co_await Price(conn, t, in);
  if (!priced) co_return priced.error();
  Order o = std::move(*priced);
  // Two replicas may take the same new key at once: the unique index makes
  // the second wait for the first and then insert nothing (nor its items or
  // event); it answers the first's order, as a replay. The order, its items,
  // its event and the user's count of pending orders before it are one
  // statement: the insert counts the order against its user (trigger, at the
  // statement's end) and holds that count row until commit, and every other
  // order of the user waits for it, so no further round trip runs under it.
  ArrayLiteral products, quantities, prices;
  for (const OrderItem& item : o.items) {
    products.Add(std::string_view(item.product_id));
    quantities.Add(item.quantity);
    prices.Add(item.unit_price_cents);
  }
  std::vector<PgParam> row{o.id,
                           o.user_id,
                           std::to_string(o.total_cents),
                           o.currency,
                           in.idempotency_key,
                           in.request_hash,
                           std::to_string(in.now_ms),
                           products.Take(),
                           quantities.Take(),
                           prices.Take()};
  AddOutboxParams(row, {OutboxEvent{"order.created", o.id, OrderEventPayload(o), in.now_ms}});
  auto inserted = co_await Run(
      conn, t,
      "WITH placed AS (INSERT INTO orders (id, user_id, status, total_cents, currency, idempotency_key, "
      "request_hash, created_at, updated_at) VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $7) "
      "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id), "
      "items AS (INSERT INTO order_items (order_id, position, product_id, quantity, unit_price_cents) "
      "SELECT placed.id, u.ord, u.product_id, u.quantity, u.price FROM placed, "
      "unnest($8::TEXT[], $9::BIGINT[], $10::BIGINT[]) WITH ORDINALITY AS u(product_id, quantity, price, ord)), "
      "announced AS (" +
          OutboxInsertSql(11) +
          " WHERE EXISTS (SELECT 1 FROM placed)), "
          "counted AS (SELECT pending FROM pending_orders WHERE user_id = $2 FOR NO KEY UPDATE) "
          "SELECT placed.id, (SELECT pending FROM counted) + 1 FROM placed",
      std::move(row));
  if (!inserted) co_return inserted.error();
  if (inserted->rows() == 0) {
    auto winner = co_await FindByKey(conn, t, in.user_id, in.idempotency_key);
    if (!winner) co_return winner.error();
    if (!*winner) co_return Error::Make(Errc::kUnavailable, "database is busy, retry shortly", "idempotency race");
    co_return Replay(std::move(**winner), in);
  }
  if (in.max_pending > 0) {
    int64_t pending = inserted->Int64(0, 1);
    // The user's first order ever: the count row is the trigger's, which a
    // concurrent first order may have made too; read what it holds now.
    if (inserted->IsNull(0, 1)) {
      std::vector<PgParam> user{o.user_id};
      auto counted = co_await Run(conn, t, "SELECT pending FROM pending_orders WHERE user_id = $1", std::move(user));
      if (!counted) co_return counted.error();
      pending = counted->rows() > 0 ? counted->Int64(0, 0) : 0;
    }
    if (pending > in.max_pending) co_return order_errors::TooManyPendingOrders();
  }
  co_return CreatedOrder{std::move(o), false};
}

// Records the payment decision once (a redelivery's answer is ignored). An
// approval for an order no longer pending is recorded as refund_pending with
// its `order.refund_requested` event, never as approved.
Awaitable<Result<void>> Decide(PgConnection& conn, Ms t, Order& o, bool approved, int64_t now_ms) {
  if (o.payment != PaymentStatus::kNone) co_return Result<void>{};
  const bool refund = approved && o.status != OrderStatus::kPending;
  o.payment = refund ? PaymentStatus::kRefundPending : approved ? PaymentStatus::kApproved : PaymentStatus::kDeclined;
  std::vector<PgParam> params{std::string(ToString(o.payment)), o.id};
  if (auto r = co_await Exec(conn, t, "UPDATE orders SET payment = $1 WHERE id = $2", std::move(params)); !r)
    co_return r.error();
  if (refund) co_return co_await Emit(conn, t, kRefundRequestedTopic, o, now_ms);
  co_return Result<void>{};
}

Awaitable<Result<Order>> Confirm(PgConnection& conn, Ms t, Order o, int64_t now_ms) {
  if (!CanMove(o.status, OrderStatus::kConfirmed) || !o.stock_reserved || o.payment != PaymentStatus::kApproved)
    co_return o;
  if (auto r = co_await MoveTo(conn, t, o, OrderStatus::kConfirmed, "", "order.confirmed", now_ms); !r)
    co_return r.error();
  co_return o;
}

Awaitable<Result<Order>> Reject(PgConnection& conn, Ms t, Order o, std::string reason, int64_t now_ms,
                                std::vector<std::string>& changed) {
  if (!CanMove(o.status, OrderStatus::kRejected)) co_return o;
  if (auto r = co_await ReleaseStock(conn, t, o, now_ms, changed); !r) co_return r.error();
  if (auto r = co_await MoveTo(conn, t, o, OrderStatus::kRejected, std::move(reason), "order.rejected", now_ms); !r)
    co_return r.error();
  co_return o;
}

// --- the transactions, one per store call ---

Awaitable<Result<Announced<Order>>> Cancel(PgConnection& conn, Ms t, std::string user_id, std::string order_id,
                                           int64_t now_ms) {
  Announced<Order> out;
  auto o = co_await Find(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  if (o->user_id != user_id) co_return NoSuchOrder();
  if (o->status == OrderStatus::kCancelled || o->status == OrderStatus::kCancelling) {
    out.value = std::move(*o);
    co_return out;
  }
  if (!CanMove(o->status, OrderStatus::kCancelling))
    co_return order_errors::NotCancellable();
  // The goods are given back at once; only the money may still be on its way.
  if (auto r = co_await ReleaseStock(conn, t, *o, now_ms, out.changed); !r) co_return r.error();
  o->stock_reserved = false;
  o->updated_at = now_ms;
  if (o->payment != PaymentStatus::kApproved) {
    if (auto r = co_await MoveTo(conn, t, *o, OrderStatus::kCancelled, "", "order.cancelled", now_ms); !r)
      co_return r.error();
    out.value = std::move(*o);
    co_return out;
  }
  // Paid: cancelling until the refund job has given the money back
  // (CompleteRefund). Its event, in this transaction, makes that job durable.
  std::vector<PgParam> params{std::to_string(now_ms), o->id};
  if (auto r = co_await Exec(conn, t,
                             "UPDATE orders SET status = 'cancelling', payment = 'refund_pending', "
                             "stock_reserved = false, updated_at = $1 WHERE id = $2",
                             std::move(params));
      !r)
    co_return r.error();
  o->status = OrderStatus::kCancelling;
  o->payment = PaymentStatus::kRefundPending;
  if (auto r = co_await Emit(conn, t, kRefundRequestedTopic, *o, now_ms); !r) co_return r.error();
  out.value = std::move(*o);
  co_return out;
}

Awaitable<Result<Order>> Refunded(PgConnection& conn, Ms t, std::string order_id, int64_t now_ms) {
  auto o = co_await Find(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  if (o->payment == PaymentStatus::kRefunded) co_return o;
  if (o->payment != PaymentStatus::kRefundPending)
    co_return order_errors::NoRefundPending(o->payment);
  std::vector<PgParam> params{std::to_string(now_ms), o->id};
  if (auto r = co_await Exec(conn, t,
                             "UPDATE orders SET payment = 'refunded', updated_at = $1, "
                             "status = CASE WHEN status = 'cancelling' THEN 'cancelled' ELSE status END WHERE id = $2",
                             std::move(params));
      !r)
    co_return r.error();
  o->payment = PaymentStatus::kRefunded;
  o->updated_at = now_ms;
  if (o->status == OrderStatus::kCancelling) {
    o->status = OrderStatus::kCancelled;
    if (auto r = co_await Emit(conn, t, "order.cancelled", *o, now_ms); !r) co_return r.error();
  }
  co_return o;
}

Awaitable<Result<Announced<Reservation>>> Reserve(PgConnection& conn, Ms t, std::string order_id, int64_t now_ms) {
  Announced<Reservation> out;
  auto o = co_await Find(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  if (o->status != OrderStatus::kPending || o->stock_reserved) {
    const ReserveOutcome outcome =
        o->status != OrderStatus::kPending ? ReserveOutcome::kNotPending : ReserveOutcome::kReserved;
    out.value = Reservation{outcome, std::move(*o)};
    co_return out;
  }
  // All items or none, decided against rows this transaction holds locked:
  // no other reservation can take the same stock in between.
  auto stock = co_await LockProducts(conn, t, o->items);
  if (!stock) co_return stock.error();
  const bool enough = std::all_of(o->items.begin(), o->items.end(), [&](const OrderItem& item) {
    auto it = stock->find(item.product_id);
    return it != stock->end() && it->second >= item.quantity;
  });
  if (!enough) {
    if (auto r = co_await MoveTo(conn, t, *o, OrderStatus::kRejected, "out_of_stock", "order.rejected", now_ms); !r)
      co_return r.error();
    out.value = Reservation{ReserveOutcome::kOutOfStock, std::move(*o)};
    co_return out;
  }
  if (auto r = co_await MoveStock(conn, t, o->items, -1, now_ms, out.changed, o->id); !r) co_return r.error();
  o->stock_reserved = true;
  o->updated_at = now_ms;
  out.value = Reservation{ReserveOutcome::kReserved, std::move(*o)};
  co_return out;
}

Awaitable<Result<PaymentStatus>> Record(PgConnection& conn, Ms t, std::string order_id, bool approved) {
  auto o = co_await FindHeader(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  // No clock here: a refund request it writes is stamped with the order's last change.
  if (auto r = co_await Decide(conn, t, *o, approved, o->updated_at); !r) co_return r.error();
  co_return o->payment;
}

Awaitable<Result<Announced<Order>>> Settle(PgConnection& conn, Ms t, std::string order_id, bool approved,
                                           int64_t now_ms) {
  Announced<Order> out;
  auto o = co_await FindHeader(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  if (auto r = co_await Decide(conn, t, *o, approved, now_ms); !r) co_return r.error();
  if (o->payment == PaymentStatus::kApproved) {
    auto confirmed = co_await Confirm(conn, t, std::move(*o), now_ms);
    if (!confirmed) co_return confirmed.error();
    out.value = std::move(*confirmed);
    co_return out;
  }
  // Only a rejection gives stock back, and only that needs the items.
  std::vector<Order> one(1, std::move(*o));
  if (auto r = co_await LoadItems(conn, t, one); !r) co_return r.error();
  auto rejected = co_await Reject(conn, t, std::move(one.front()), "payment_declined", now_ms, out.changed);
  if (!rejected) co_return rejected.error();
  out.value = std::move(*rejected);
  co_return out;
}

Awaitable<Result<Order>> ConfirmById(PgConnection& conn, Ms t, std::string order_id, int64_t now_ms) {
  auto o = co_await Find(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  co_return co_await Confirm(conn, t, std::move(*o), now_ms);
}

Awaitable<Result<Announced<Order>>> RejectById(PgConnection& conn, Ms t, std::string order_id, std::string reason,
                                               int64_t now_ms) {
  Announced<Order> out;
  auto o = co_await Find(conn, t, std::move(order_id), true);
  if (!o) co_return o.error();
  auto rejected = co_await Reject(conn, t, std::move(*o), std::move(reason), now_ms, out.changed);
  if (!rejected) co_return rejected.error();
  out.value = std::move(*rejected);
  co_return out;
}

// --- reads, each on one connection without a transaction ---

Awaitable<Result<Order>> GetOwned(PgConnection& conn, Ms t, std::string user_id, std::string order_id) {
  auto o = co_await Find(conn, t, std::move(order_id), false);
  if (o && o->user_id != user_id) co_return NoSuchOrder();
  co_return o;
}

Awaitable<Result<OrderPage>> List(PgConnection& conn, Ms t, std::string user_id, int64_t before, int limit) {
  std::vector<PgParam> params{std::move(user_id), std::to_string(before), std::to_string(int64_t{limit} + 1)};
  auto r = co_await Run(conn, t,
                        "SELECT " SHOPD_ORDER_COLUMNS " FROM orders WHERE user_id = $1 AND seq < $2 "
                        "ORDER BY seq DESC LIMIT $3",
                        std::move(params));
  if (!r) co_return r.error();
  OrderPage page;
  for (int i = 0; i < r->rows() && i < limit; ++i) {
    auto o = ReadOrder(*r, i);
    if (!o) co_return o.error();
    page.items.push_back(std::move(*o));
  }
  if (r->rows() > limit) page.next_cursor = std::to_string(r->Int64(limit - 1, 10));
  if (auto items = co_await LoadItems(conn, t, page.items); !items) co_return items.error();
  co_return page;
}

Result<int64_t> ParseCursor(const std::string& cursor) {
  if (cursor.empty()) return INT64_MAX;
  try {
    size_t used = 0;
    const int64_t before = std::stoll(cursor, &used);
    if (used == cursor.size() && before > 0) return before;
  } catch (const std::exception&) {
  }
  return Error::Invalid("cursor is not valid").WithType("invalid-cursor");
}

template <class T>
Awaitable<Result<T>> Failed(Error e) {
  co_return e;
}

// Awaits a write; once it committed, tells `changes` which products it changed.
template <class T>
Awaitable<Result<T>> Announce(Awaitable<Result<Announced<T>>> write, ProductChangeListener* changes) {
  auto done = co_await std::move(write);
  if (!done) co_return done.error();
  if (changes && !done->changed.empty()) co_await changes->ProductsChanged(std::move(done->changed));
  co_return std::move(done->value);
}

}  // namespace

// Each call binds its arguments into a plain (non-coroutine) lambda that
// starts the named coroutine above: GCC 12 destroys the captures of lambda
// coroutines twice.

Async<CreatedOrder> PgOrderStore::CreateOrder(NewOrder order) {
  const Ms t = pool_.options().query_timeout;
  TxBody<CreatedOrder> body = [t, order = std::move(order)](PgConnection& c) { return Create(c, t, order); };
  return InTransaction<CreatedOrder>(pool_, std::move(body));
}

Async<std::optional<KeyedOrder>> PgOrderStore::FindOrderByKey(std::string user_id, std::string idempotency_key) {
  const Ms t = pool_.options().query_timeout;
  std::function<Awaitable<Result<std::optional<KeyedOrder>>>(PgConnection&)> read =
      [t, user_id = std::move(user_id), key = std::move(idempotency_key)](PgConnection& c) {
        return FindByKey(c, t, user_id, key);
      };
  return pool_.With<std::optional<KeyedOrder>>(std::move(read));
}

Async<Order> PgOrderStore::GetOrder(std::string user_id, std::string order_id) {
  const Ms t = pool_.options().query_timeout;
  std::function<Awaitable<Result<Order>>(PgConnection&)> read =
      [t, user_id = std::move(user_id), order_id = std::move(order_id)](PgConnection& c) {
        return GetOwned(c, t, user_id, order_id);
      };
  return pool_.With<Order>(std::move(read));
}

Async<OrderPage> PgOrderStore::ListOrders(std::string user_id, std::string cursor, int limit) {
  auto before = ParseCursor(cursor);
  if (!before) return Failed<OrderPage>(before.error());
  PgReadPools::ReadFn<OrderPage> read = [user_id = std::move(user_id), before = *before, limit](PgPool& pool) {
    const Ms t = pool.options().query_timeout;
    std::function<Awaitable<Result<OrderPage>>(PgConnection&)> list = [t, user_id, before, limit](PgConnection& c) {
      return List(c, t, user_id, before, limit);
    };
    return pool.With<OrderPage>(std::move(list));
  };
  return reads_.Read<OrderPage>(std::move(read));
}

Async<Order> PgOrderStore::CancelOrder(std::string user_id, std::string order_id, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Announced<Order>> body = [t, user_id = std::move(user_id), order_id = std::move(order_id),
                                    now_ms](PgConnection& c) { return Cancel(c, t, user_id, order_id, now_ms); };
  return Announce<Order>(InTransaction<Announced<Order>>(pool_, std::move(body)), changes_);
}

Async<Order> PgOrderStore::CompleteRefund(std::string order_id, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Order> body = [t, order_id = std::move(order_id), now_ms](PgConnection& c) {
    return Refunded(c, t, order_id, now_ms);
  };
  return InTransaction<Order>(pool_, std::move(body));
}

Async<Order> PgOrderStore::LoadOrder(std::string order_id) {
  const Ms t = pool_.options().query_timeout;
  std::function<Awaitable<Result<Order>>(PgConnection&)> read = [t, order_id = std::move(order_id)](PgConnection& c) {
    return Find(c, t, order_id, false);
  };
  return pool_.With<Order>(std::move(read));
}

Async<Reservation> PgOrderStore::ReserveStock(std::string order_id, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Announced<Reservation>> body = [t, order_id = std::move(order_id), now_ms](PgConnection& c) {
    return Reserve(c, t, order_id, now_ms);
  };
  return Announce<Reservation>(InTransaction<Announced<Reservation>>(pool_, std::move(body)), changes_);
}

Async<PaymentStatus> PgOrderStore::RecordPayment(std::string order_id, bool approved) {
  const Ms t = pool_.options().query_timeout;
  TxBody<PaymentStatus> body = [t, order_id = std::move(order_id), approved](PgConnection& c) {
    return Record(c, t, order_id, approved);
  };
  return InTransaction<PaymentStatus>(pool_, std::move(body));
}

Async<Order> PgOrderStore::SettlePayment(std::string order_id, bool approved, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Announced<Order>> body = [t, order_id = std::move(order_id), approved, now_ms](PgConnection& c) {
    return Settle(c, t, order_id, approved, now_ms);
  };
  return Announce<Order>(InTransaction<Announced<Order>>(pool_, std::move(body)), changes_);
}

Async<Order> PgOrderStore::ConfirmOrder(std::string order_id, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Order> body = [t, order_id = std::move(order_id), now_ms](PgConnection& c) {
    return ConfirmById(c, t, order_id, now_ms);
  };
  return InTransaction<Order>(pool_, std::move(body));
}

Async<Order> PgOrderStore::RejectOrder(std::string order_id, std::string reason, int64_t now_ms) {
  const Ms t = pool_.options().query_timeout;
  TxBody<Announced<Order>> body = [t, order_id = std::move(order_id), reason = std::move(reason),
                                   now_ms](PgConnection& c) { return RejectById(c, t, order_id, reason, now_ms); };
  return Announce<Order>(InTransaction<Announced<Order>>(pool_, std::move(body)), changes_);
}

}  // namespace shopd::storage::postgres

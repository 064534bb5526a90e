// storage: the order store interface — orders, their items, idempotency keys,
// stock reservations and the order events, each change in one transaction.
// Depends on core.
//
// The status machines (storage/order_status.h) are enforced by the store
// itself, in its database, so an illegal transition is impossible, not just
// unlikely. Every saga step is idempotent: running it again changes nothing
// twice.
//
// Cancelling a paid order gives its stock back at once and leaves it
// `cancelling` / refund_pending, with an `order.refund_requested` event in the
// same transaction; the refund job that event starts (workers/order_refund.h)
// calls the payment provider and then CompleteRefund: `cancelled` / refunded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/order_status.h"
#include "storage/user_store.h"

namespace shopd::storage {

// The event that starts a refund job; key = order id.
inline constexpr std::string_view kRefundRequestedTopic = "order.refund_requested";

struct OrderItem {
  std::string product_id;
  int64_t quantity = 0;
  int64_t unit_price_cents = 0;  // from the catalog at order time, never from the client
};

struct Order {
  std::string id;
  std::string user_id;
  OrderStatus status = OrderStatus::kPending;
  std::string reason;  // for rejected: out_of_stock | payment_declined
  int64_t total_cents = 0;
  std::string currency;
  std::vector<OrderItem> items;
  bool stock_reserved = false;
  PaymentStatus payment = PaymentStatus::kNone;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct NewOrder {
  std::string id;
  std::string user_id;
  std::string idempotency_key;
  std::string request_hash;  // of the normalised request body
  std::vector<OrderItem> items;  // product_id + quantity; prices filled by the store
  int64_t now_ms = 0;
  // The user's pending orders allowed at once, this one included (0 = no cap).
  int64_t max_pending = 0;
};

struct CreatedOrder {
  Order order;
  bool replayed = false;  // the key was seen before with the same body
};

// An order found by its (user, idempotency key), with the hash of the request
// that placed it (to tell a retry from a reuse of the key).
struct KeyedOrder {
  Order order;
  std::string request_hash;
};

struct OrderPage {
  std::vector<Order> items;
  std::optional<std::string> next_cursor;
};

enum class ReserveOutcome { kReserved, kOutOfStock, kNotPending };

struct Reservation {
  ReserveOutcome outcome = ReserveOutcome::kNotPending;
  Order order;  // as it stands after the step
};

class OrderStore {
 public:
  virtual ~OrderStore() = default;

  // Validates products (kUnprocessable with field errors for unknown ids or
  // mixed currencies), prices the items from the catalog, and writes the
  // order as pending plus an `order.created` outbox event in ONE transaction.
  // The same (user, idempotency key) returns the first order (replayed) when
  // the request hash matches, kUnprocessable when it does not.
  // With `max_pending` set, a new order that would leave the user with more
  // pending orders than that is kRateLimited ("too-many-pending-orders"),
  // decided in the same transaction as the insert (exact under concurrency;
  // a replay is answered before the cap is looked at).
  virtual Async<CreatedOrder> CreateOrder(NewOrder order) = 0;
  // The order placed with this key by this user, if any.
  virtual Async<std::optional<KeyedOrder>> FindOrderByKey(std::string user_id, std::string idempotency_key) = 0;
  // The owner's order; another user's order is kNotFound.
  virtual Async<Order> GetOrder(std::string user_id, std::string order_id) = 0;
  // Newest first; `cursor` is "" or a value from a previous page.
  virtual Async<OrderPage> ListOrders(std::string user_id, std::string cursor, int limit) = 0;
  // Releases reserved stock, then: unpaid pending -> cancelled (`order.cancelled`
  // event); paid (confirmed, or pending with an approval) -> cancelling with
  // payment refund_pending (`order.refund_requested` event). Already
  // cancelling or cancelled -> unchanged; rejected -> kConflict.
  virtual Async<Order> CancelOrder(std::string user_id, std::string order_id, int64_t now_ms) = 0;
  // After the provider refunded: refund_pending -> refunded, and a cancelling
  // order -> cancelled (`order.cancelled` event). Already refunded ->
  // unchanged; no refund pending -> kConflict.
  virtual Async<Order> CompleteRefund(std::string order_id, int64_t now_ms) = 0;

  // --- saga steps (by order id, no owner check) ---
  virtual Async<Order> LoadOrder(std::string order_id) = 0;
  // All items or none: on success stock is decremented and the order marked
  // reserved (idempotent: an already reserved order is kReserved again). When
  // any item lacks stock the order is rejected (out_of_stock) with its event.
  virtual Async<Reservation> ReserveStock(std::string order_id, int64_t now_ms) = 0;
  // Records the payment decision once; later calls return the first one. An
  // approval for an order no longer pending is recorded as refund_pending,
  // with its `order.refund_requested` event (the money goes back).
  virtual Async<PaymentStatus> RecordPayment(std::string order_id, bool approved) = 0;
  // RecordPayment + ConfirmOrder/RejectOrder in ONE transaction: records the
  // decision if none was recorded, then moves a pending order by the recorded
  // decision (approved -> confirmed, declined -> rejected/payment_declined with
  // its stock released). For an order no longer pending (cancelled while the
  // charge was in flight) only the decision is recorded, an approval as
  // refund_pending (see RecordPayment).
  virtual Async<Order> SettlePayment(std::string order_id, bool approved, int64_t now_ms) = 0;
  // pending -> confirmed + `order.confirmed`; a no-op in any other state.
  virtual Async<Order> ConfirmOrder(std::string order_id, int64_t now_ms) = 0;
  // pending -> rejected (releasing reserved stock) + `order.rejected`; a no-op otherwise.
  virtual Async<Order> RejectOrder(std::string order_id, std::string reason, int64_t now_ms) = 0;
};

}  // namespace shopd::storage

// storage/postgres: orders on PostgreSQL (the scale-out topology). Depends on
// storage and the pool.
//
// Same behaviour as storage/sqlite's store, checked by the same contract
// suite. Each order change and its outbox rows are one transaction on one
// pooled connection; nothing on the order path is global: an order locks only
// its own row, its user's pending count and, in the saga, its products' rows
// (taken in id order, so concurrent reservations cannot deadlock). Many
// replicas therefore write orders at once; the database's own group commit
// (concurrent COMMITs share a WAL flush) batches their durability.
//
// The guarded stock decrement is checked against rows this transaction holds
// locked, and `stock >= 0` is a CHECK on the table: no overselling however
// many replicas reserve at once. The status and payment machines are enforced
// by a trigger (migration 5), the idempotency key by a unique index.
#pragma once

#include "storage/order_store.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_read_pools.h"
#include "storage/product_changes.h"

namespace shopd::storage::postgres {

class PgOrderStore final : public OrderStore {
 public:
  // `pool` (migrated) and `changes` (may be null) must outlive the store.
  // Order listings go to `read_pool` when given (a streaming replica: may lag
  // by a moment behind a write; the primary while it fails).
  explicit PgOrderStore(PgPool& pool, ProductChangeListener* changes = nullptr, PgPool* read_pool = nullptr)
      : pool_(pool), reads_(pool, read_pool), changes_(changes) {}

  // OrderStore
  Async<CreatedOrder> CreateOrder(NewOrder order) override;
  Async<std::optional<KeyedOrder>> FindOrderByKey(std::string user_id, std::string idempotency_key) override;
  Async<Order> GetOrder(std::string user_id, std::string order_id) override;
  Async<OrderPage> ListOrders(std::string user_id, std::string cursor, int limit) override;
  Async<Order> CancelOrder(std::string user_id, std::string order_id, int64_t now_ms) override;
  Async<Order> CompleteRefund(std::string order_id, int64_t now_ms) override;
  Async<Order> LoadOrder(std::string order_id) override;
  Async<Reservation> ReserveStock(std::string order_id, int64_t now_ms) override;
  Async<Order> SettlePayment(std::string order_id, bool approved, int64_t now_ms) override;
  Async<PaymentStatus> RecordPayment(std::string order_id, bool approved) override;
  Async<Order> ConfirmOrder(std::string order_id, int64_t now_ms) override;
  Async<Order> RejectOrder(std::string order_id, std::string reason, int64_t now_ms) override;

 private:
  PgPool& pool_;
  PgReadPools reads_;
  ProductChangeListener* changes_;
};

}  // namespace shopd::storage::postgres

// storage/sqlite: orders on SQLite. Each order change and its outbox event are
// one transaction (transactional outbox), group-committed by the SqliteWriter;
// reads run on the pool. A write that changes stock writes `product.changed`
// outbox rows in the same transaction and tells `changes` after the commit,
// before its caller resumes (storage/product_changes.h).
#pragma once

#include <memory>

#include "exec/worker_pool.h"
#include "storage/order_store.h"
#include "storage/product_changes.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::storage::sqlite {

class ProductChangeOutbox;

class SqliteOrderStore final : public OrderStore {
 public:
  // `changes` (may be null) must outlive the store.
  SqliteOrderStore(SqliteDatabase& db, exec::WorkerPool& pool, SqliteWriter& writer,
                   ProductChangeListener* changes = nullptr)
      : db_(db), pool_(pool), writer_(writer), changes_(changes) {}

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
  // Runs write(conn, outbox) in the next group commit; once it committed,
  // tells `changes_` which products it recorded in the outbox.
  template <class T, class Write>
  Async<T> WriteAnnounced(Write write);
  template <class T>
  Async<T> Announce(Async<T> write, std::shared_ptr<ProductChangeOutbox> changed);

  SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  SqliteWriter& writer_;
  ProductChangeListener* changes_;
};

}  // namespace shopd::storage::sqlite

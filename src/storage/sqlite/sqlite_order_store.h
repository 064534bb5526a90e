// storage/sqlite: orders on SQLite. Order changes and their outbox events are
// written in one transaction (transactional outbox); blocking work runs on the pool.
#pragma once

#include "exec/worker_pool.h"
#include "storage/order_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::storage::sqlite {

class SqliteOrderStore final : public OrderStore {
 public:
  SqliteOrderStore(SqliteDatabase& db, exec::WorkerPool& pool) : db_(db), pool_(pool) {}

  // OrderStore
  Async<CreatedOrder> CreateOrder(NewOrder order) override;
  Async<Order> GetOrder(std::string user_id, std::string order_id) override;
  Async<OrderPage> ListOrders(std::string user_id, std::string cursor, int limit) override;
  Async<Order> CancelOrder(std::string user_id, std::string order_id, int64_t now_ms) override;
  Async<Order> LoadOrder(std::string order_id) override;
  Async<Reservation> ReserveStock(std::string order_id, int64_t now_ms) override;
  Async<Order> SettlePayment(std::string order_id, bool approved, int64_t now_ms) override;
  Async<std::string> RecordPayment(std::string order_id, bool approved) override;
  Async<Order> ConfirmOrder(std::string order_id, int64_t now_ms) override;
  Async<Order> RejectOrder(std::string order_id, std::string reason, int64_t now_ms) override;

 private:
  SqliteDatabase& db_;
  exec::WorkerPool& pool_;
};

}  // namespace shopd::storage::sqlite

// storage/sqlite: orders on SQLite. Each order change and its outbox event are
// one transaction (transactional outbox), group-committed by the SqliteWriter;
// reads run on the pool.
#pragma once

#include "exec/worker_pool.h"
#include "storage/order_store.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::storage::sqlite {

class SqliteOrderStore final : public OrderStore {
 public:
  SqliteOrderStore(SqliteDatabase& db, exec::WorkerPool& pool, SqliteWriter& writer)
      : db_(db), pool_(pool), writer_(writer) {}

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
  SqliteWriter& writer_;
};

}  // namespace shopd::storage::sqlite

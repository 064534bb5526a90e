// app: the asynchronous half of the order flow in the embedded topology —
// outbox relay -> event log -> `order.created` consumer -> saga jobs -> saga
// workers, and `order.refund_requested` consumer -> refund jobs -> refund
// workers — plus the event log's retention and the tail that carries
// `product.changed` events written by any process (this one included) to
// `product_changes`, all on one background io_context thread of its own,
// away from the reactors.
//
// The loops sleep until a write wakes them: this process's own writes by a
// direct call, other processes' through the database change watcher
// (storage/sqlite/sqlite_change_watcher.h), at most 5 ms after their commit.
// So a product change committed by another process reaches this one's cache
// once its relay moved it into the log and this tail read it: milliseconds
// while the pipeline runs; the catalog cache TTL (--catalog-cache-ttl-ms)
// bounds it if it stalls.
//
//   OrderPipeline pipeline(db, pool, writer, order_store, settings.workers, metrics, clock, &changes);
//   pipeline.Start();
//   ... OrdersService's change hook calls pipeline.OrderWritten() ...
//   pipeline.Stop();   // after the server drained: the loops finish what they hold
#pragma once

#include <memory>

#include "core/clock.h"
#include "obs/fwd.h"
#include "storage/order_store.h"
#include "storage/product_changes.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"
#include "workers/workers_config.h"

namespace shopd::exec {
class WorkerPool;
}  // namespace shopd::exec

namespace shopd::app {

class OrderPipeline {
 public:
  // Every argument must outlive the pipeline; `product_changes` may be null.
  OrderPipeline(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool, storage::sqlite::SqliteWriter& writer,
                storage::OrderStore& orders, const workers::WorkersConfig& config, obs::MetricsRegistry& metrics,
                const core::Clock& clock, storage::ProductChangeListener* product_changes = nullptr);
  // Stops (if still running) and joins the background thread.
  ~OrderPipeline();
  OrderPipeline(const OrderPipeline&) = delete;
  OrderPipeline& operator=(const OrderPipeline&) = delete;

  // Starts the loops and the background thread. Call once, before serving:
  // product changes are tailed from the log's end as it is now.
  void Start();
  // An order change was committed with an outbox row: relay it now rather
  // than at the next poll. Any thread.
  void OrderWritten();
  // Stops the loops (a leased job that is cut short is redelivered after its
  // lease, an uncommitted event re-read) and joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::app

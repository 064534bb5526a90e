// app: the asynchronous half of the order flow in the embedded topology —
// outbox relay -> event log -> `order.created` consumer -> saga jobs -> saga
// workers, and `order.refund_requested` consumer -> refund jobs -> refund
// workers — plus the event log's retention and the tail that carries
// `product.changed` events written by any process (this one included) to
// `product_changes`, all on one background io_context thread of its own,
// away from the reactors.
//
// The pipeline is the same code in both topologies: it runs on the event log,
// job queue and relay its PipelineBackend gives it (app/pipeline_backend.h).
//
// The loops sleep until a write wakes them: this process's own writes by a
// direct call, other processes' through the backend (inotify on the SQLite
// WAL, within 5 ms of a commit; LISTEN/NOTIFY on PostgreSQL, once per relayed
// batch).
// So a product change committed by another process reaches this one's cache
// once its relay moved it into the log and this tail read it: milliseconds
// while the pipeline runs; the catalog cache TTL (--catalog-cache-ttl-ms)
// bounds it if it stalls.
//
//   SqlitePipelineBackend backend(db, pool, writer, clock, OrderPipeline::QueueOptions(settings.workers));
//   OrderPipeline pipeline(backend, order_store, settings.workers, metrics, clock, &changes);
//   pipeline.Start();
//   ... OrdersService's change hook calls pipeline.OutboxWritten() ...
//   pipeline.Stop();   // after the server drained: the loops finish what they hold
#pragma once

#include <memory>

#include "app/pipeline_backend.h"
#include "core/clock.h"
#include "obs/fwd.h"
#include "queue/job_queue.h"
#include "storage/order_store.h"
#include "storage/product_changes.h"
#include "workers/workers_config.h"

namespace shopd::app {

class OrderPipeline {
 public:
  // The job queue options the pipeline's queues are built with.
  static queue::JobQueueOptions QueueOptions(const workers::WorkersConfig& config);

  // Every argument must outlive the pipeline; `product_changes` may be null.
  OrderPipeline(PipelineBackend& backend, storage::OrderStore& orders, const workers::WorkersConfig& config,
                obs::MetricsRegistry& metrics, const core::Clock& clock,
                storage::ProductChangeListener* product_changes = nullptr);
  // Stops (if still running) and joins the background thread.
  ~OrderPipeline();
  OrderPipeline(const OrderPipeline&) = delete;
  OrderPipeline& operator=(const OrderPipeline&) = delete;

  // Starts the loops and the background thread. Call once, before serving:
  // product changes are tailed from the log's end as it is now.
  void Start();
  // Something was committed with an outbox row in this process: relay it
  // now rather than at the next wake-up. Any thread.
  void OutboxWritten();
  // Subscribe it to the product change notices of this process's stores:
  // each one relays the outbox (see OutboxWritten).
  storage::ProductChangeListener& relay_on_product_change();
  // Stops the loops (a leased job that is cut short is redelivered after its
  // lease, an uncommitted event re-read) and joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::app

// app: the scale-out topology's backends — PostgreSQL shared by every
// replica, through a bounded connection pool per process whose sockets run
// on one io thread of their own (callers resume on their own executors).

#include <memory>
#include <optional>
#include <utility>

#include "app/backends.h"
#include "app/database_url.h"
#include "app/order_pipeline.h"
#include "app/postgres_pipeline_backend.h"
#include "exec/await_blocking.h"
#include "exec/io_thread.h"
#include "obs/metrics.h"
#include "storage/postgres/pg_catalog_store.h"
#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_order_store.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_user_store.h"

namespace shopd::app {
namespace {

using storage::postgres::PgPool;
using storage::postgres::PgPoolOptions;

PgPoolOptions PoolOptions(const std::string& url, const Settings& s) {
  PgPoolOptions o;
  o.conninfo = url;
  o.max_connections = static_cast<size_t>(s.app.db_pool_size);
  o.max_waiters = static_cast<size_t>(s.app.db_queue);
  return o;
}

// Members are built in dependency order and destroyed in reverse.
class PostgresBackends final : public Backends {
 public:
  PostgresBackends(const Settings& s, BackendOptions o, std::string url)
      : url_(std::move(url)),
        primary_(io_.executor(), PoolOptions(url_, s)),
        replica_(s.app.database_replica_url.empty()
                     ? std::nullopt
                     : std::make_optional<PgPool>(io_.executor(), PoolOptions(s.app.database_replica_url, s))),
        users_(primary_),
        catalog_(primary_, o.product_changes, replica_ ? &*replica_ : nullptr),
        orders_(primary_, o.product_changes, replica_ ? &*replica_ : nullptr),
        pipeline_(primary_, url_, *o.clock, OrderPipeline::QueueOptions(s.workers)) {
    if (o.metrics) RegisterMetrics(*o.metrics);
  }

  storage::UserStore& users() override { return users_; }
  storage::CatalogStore& catalog() override { return catalog_; }
  storage::OrderStore& orders() override { return orders_; }
  PipelineBackend& pipeline() override { return pipeline_; }
  // Nothing blocks here: queries in flight end with their coroutines, and
  // the pools close their connections when destroyed.
  void Shutdown() override {}
  std::string Describe() const override { return RedactedUrl(url_) + (replica_ ? " (+ replica)" : ""); }

  PgPool& primary() { return primary_; }

 private:
  void RegisterMetrics(obs::MetricsRegistry& metrics) {
    metrics.AddCallbackGauge("shopd_db_pool_connections", "Open PostgreSQL connections of this process.",
                             {{"database", "primary"}},
                             [this] { return static_cast<double>(primary_.open_connections()); });
    if (replica_)
      metrics.AddCallbackGauge("shopd_db_pool_connections", "Open PostgreSQL connections of this process.",
                               {{"database", "replica"}},
                               [this] { return static_cast<double>(replica_->open_connections()); });
  }

  const std::string url_;
  exec::IoThread io_{"shopd-pg"};
  PgPool primary_;
  std::optional<PgPool> replica_;
  storage::postgres::PgUserStore users_;
  storage::postgres::PgCatalogStore catalog_;
  storage::postgres::PgOrderStore orders_;
  PostgresPipelineBackend pipeline_;
};

}  // namespace

core::Result<std::unique_ptr<Backends>> OpenPostgresBackends(const Settings& s, BackendOptions options) {
  auto target = ParseDatabaseUrl(s.app.database_url, s.app.data_dir);
  if (!target) return target.error();
  auto backends = std::make_unique<PostgresBackends>(s, options, target->url);
  // Reachable, and on exactly this build's schema: replicas never migrate on
  // their own (`shopd migrate` is a deliberate step, run once per upgrade).
  if (auto schema = exec::AwaitBlocking(storage::postgres::CheckSchema(backends->primary())); !schema) {
    core::Error e = schema.error();
    e.message = RedactedUrl(target->url) + ": " + e.message;
    return e;
  }
  return std::unique_ptr<Backends>(std::move(backends));
}

}  // namespace shopd::app

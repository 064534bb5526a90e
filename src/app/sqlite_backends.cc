// app: the embedded topology's backends — one SQLite file, blocking calls on
// a worker pool, order writes group-committed by one writer thread.

#include <memory>
#include <utility>

#include "app/app_config.h"
#include "app/backends.h"
#include "app/database_url.h"
#include "app/order_pipeline.h"
#include "app/sqlite_pipeline_backend.h"
#include "exec/worker_pool.h"
#include "obs/metrics.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_order_store.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::app {
namespace {

// Members are built in dependency order and destroyed in reverse.
class SqliteBackends final : public Backends {
 public:
  SqliteBackends(std::unique_ptr<storage::sqlite::SqliteDatabase> db, const Settings& s, BackendOptions o)
      : db_(std::move(db)),
        pool_(static_cast<size_t>(s.app.db_threads), static_cast<size_t>(s.app.db_queue), "shopd-db"),
        writer_(*db_),
        users_(*db_, pool_),
        catalog_(*db_, pool_, o.product_changes),
        orders_(*db_, pool_, writer_, o.product_changes),
        pipeline_(*db_, pool_, writer_, *o.clock, OrderPipeline::QueueOptions(s.workers)) {
    if (o.metrics) RegisterMetrics(*o.metrics);
  }

  storage::UserStore& users() override { return users_; }
  storage::CatalogStore& catalog() override { return catalog_; }
  storage::OrderStore& orders() override { return orders_; }
  PipelineBackend& pipeline() override { return pipeline_; }
  void Shutdown() override {
    // Accepted blocking tasks finish while the io_contexts still exist to
    // receive (and drop) their completions.
    writer_.Shutdown();
    pool_.Shutdown();
  }
  std::string Describe() const override { return "sqlite:" + db_->path(); }

 private:
  void RegisterMetrics(obs::MetricsRegistry& metrics) {
    metrics.AddCallbackGauge("shopd_worker_pool_queued", "Blocking tasks waiting for a pool thread.", {},
                             [this] { return static_cast<double>(pool_.queued()); });
    metrics.AddCallbackCounter("shopd_worker_pool_rejected_total",
                               "Blocking tasks refused because the queue was full.", {},
                               [this] { return static_cast<double>(pool_.rejected()); });
    metrics.AddCallbackCounter("shopd_sqlite_group_commits_total", "Write transactions the SQLite writer committed.",
                               {}, [this] { return static_cast<double>(writer_.commits()); });
    metrics.AddCallbackCounter("shopd_sqlite_group_writes_total",
                               "Writes committed by the SQLite writer (writes / commits = mean group size).", {},
                               [this] { return static_cast<double>(writer_.writes()); });
  }

  std::unique_ptr<storage::sqlite::SqliteDatabase> db_;
  exec::WorkerPool pool_;
  storage::sqlite::SqliteWriter writer_;
  storage::sqlite::SqliteUserStore users_;
  storage::sqlite::SqliteCatalogStore catalog_;
  storage::sqlite::SqliteOrderStore orders_;
  SqlitePipelineBackend pipeline_;
};

}  // namespace

core::Result<std::unique_ptr<Backends>> OpenSqliteBackends(const Settings& s, BackendOptions options) {
  auto target = ParseDatabaseUrl(s.app.database_url, s.app.data_dir);
  if (!target) return target.error();
  storage::sqlite::SqliteOptions opts;
  opts.data_dir = target->sqlite_dir;
  opts.file_name = target->sqlite_file;
  auto db = storage::sqlite::SqliteDatabase::Open(opts);  // applies migrations
  if (!db) return db.error();
  return std::unique_ptr<Backends>(new SqliteBackends(std::move(*db), s, options));
}

core::Result<std::unique_ptr<Backends>> OpenBackends(const Settings& s, BackendOptions options) {
  auto target = ParseDatabaseUrl(s.app.database_url, s.app.data_dir);
  if (!target) return target.error();
  if (target->postgres()) return OpenPostgresBackends(s, options);
  return OpenSqliteBackends(s, options);
}

}  // namespace shopd::app

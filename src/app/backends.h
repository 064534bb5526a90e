// app: the stores and the pipeline's backend of one topology, opened from
// the settings' --database-url: SQLite in one file (app/sqlite_backends.cc)
// or PostgreSQL shared by many replicas (app/postgres_backends.cc). The rest
// of the process (services, routes, pipeline) is the same code over either.
//
//   auto backends = OpenBackends(settings, {.metrics = &metrics, .product_changes = &changes});
//   services::UsersService users(..., (*backends)->users(), ...);
//   ...
//   (*backends)->Shutdown();   // after the server drained and the pipeline stopped
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "app/pipeline_backend.h"
#include "app/settings.h"
#include "core/clock.h"
#include "core/error.h"
#include "obs/fwd.h"
#include "storage/catalog_store.h"
#include "storage/order_store.h"
#include "storage/product_changes.h"
#include "storage/user_store.h"

namespace shopd::app {

class Backends {
 public:
  virtual ~Backends() = default;
  virtual storage::UserStore& users() = 0;
  virtual storage::CatalogStore& catalog() = 0;
  virtual storage::OrderStore& orders() = 0;
  virtual PipelineBackend& pipeline() = 0;
  // Finishes accepted blocking work and closes connections. Call once, after
  // the server drained and the pipeline stopped; the stores are unusable after.
  virtual void Shutdown() = 0;
  // What the process runs on, for the start-up log line (no secrets).
  virtual std::string Describe() const = 0;
};

struct BackendOptions {
  const core::Clock* clock = &core::SystemClock::Instance();
  obs::MetricsRegistry* metrics = nullptr;  // may be null (no pool metrics)
  // Told of every committed product change (may be null).
  storage::ProductChangeListener* product_changes = nullptr;
};

// SQLite is migrated on open; PostgreSQL must already hold exactly the schema
// this build knows (else an error naming `shopd migrate`) and be reachable.
core::Result<std::unique_ptr<Backends>> OpenBackends(const Settings& settings, BackendOptions options);

core::Result<std::unique_ptr<Backends>> OpenSqliteBackends(const Settings& settings, BackendOptions options);
core::Result<std::unique_ptr<Backends>> OpenPostgresBackends(const Settings& settings, BackendOptions options);

}  // namespace shopd::app

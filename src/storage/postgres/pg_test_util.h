// storage/postgres: test helpers — a migrated, empty database on the shared
// test server, with a pool whose sockets run on their own io thread.
// Header-only, for test targets only.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/testing/async_test_util.h"
#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/testing/postgres_test_server.h"

namespace shopd::storage::postgres::test_util {

inline testing::PostgresTestServer& Server() {
  auto* server = testing::PostgresTestServer::Shared();
  if (server == nullptr)
    throw std::runtime_error("PostgreSQL 15 is not available: run scripts/install_deps.sh test");
  return *server;
}

// Members are destroyed in reverse: the pool (closing its connections), the
// io thread, then the database is dropped.
class FreshDatabase {
 public:
  explicit FreshDatabase(PgPoolOptions options = {}) : name_(Server().CreateDatabase()) {
    options.conninfo = Server().ConnInfo(name_);
    pool_ = std::make_unique<PgPool>(io_->io().get_executor(), options);
    boost::asio::io_context io;
    auto migrated = shopd::testing::AwaitOn(io, ApplyMigrations(*pool_));
    if (!migrated) throw std::runtime_error("migrations failed: " + migrated.error().internal);
  }
  ~FreshDatabase() {
    pool_.reset();
    io_.reset();
    Server().DropDatabase(name_);
  }
  PgPool& pool() { return *pool_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<shopd::testing::IoThread> io_ = std::make_unique<shopd::testing::IoThread>();
  std::unique_ptr<PgPool> pool_;
};

}  // namespace shopd::storage::postgres::test_util

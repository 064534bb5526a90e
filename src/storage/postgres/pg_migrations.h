// storage/postgres: the PostgreSQL schema, applied in order, once. Depends on
// core.
//
// Each migration runs in one transaction under an advisory lock, so replicas
// starting together apply it exactly once; `schema_migrations` records what
// is applied. The tables mirror storage/sqlite's (same columns, same
// constraints), so both backends pass the same contract suites.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/error.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::storage::postgres {

boost::asio::awaitable<core::Result<void>> ApplyMigrations(PgPool& pool);

}  // namespace shopd::storage::postgres

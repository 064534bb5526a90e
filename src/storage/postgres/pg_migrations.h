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

// The newest migration this build knows.
int LatestSchemaVersion();

// Whether the database holds exactly the schema this build knows. Replicas
// never migrate on their own (an upgrade is a deliberate step, run once):
// an older or newer schema is an error whose message names
// `shopd migrate`; an unreachable database is kUnavailable.
boost::asio::awaitable<core::Result<void>> CheckSchema(PgPool& pool);

}  // namespace shopd::storage::postgres

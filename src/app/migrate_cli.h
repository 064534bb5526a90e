// app: `shopd migrate`, which brings a PostgreSQL database's schema up to the
// one this build knows. Idempotent, and safe with replicas starting at once
// (each migration runs under an advisory lock, storage/postgres/pg_migrations.h).
#pragma once

#include <iosfwd>
#include <string>

namespace shopd::app {

// The database URL comes from `database_url` when not empty, else from
// SHOPD_DATABASE_URL, else from the file SHOPD_DATABASE_URL_FILE names (so a
// password can stay out of the command line). Prints each migration applied
// and the resulting version to `out`; errors to `err`. Returns 0, 1 (the
// database refused or could not be reached) or 2 (no usable URL).
int MigrateCommand(const std::string& database_url, std::ostream& out, std::ostream& err);

}  // namespace shopd::app

// storage/sqlite: the schema, as an ordered list of migrations. Depends on
// core and this folder's connection wrappers.
//
// Versions only ever grow and a released migration is never edited: append a
// new one instead. Every database open runs ApplyMigrations, which is a no-op
// once the file is up to date.
#pragma once

#include <span>
#include <string_view>

#include "core/error.h"

namespace shopd::storage::sqlite {

class Connection;

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;  // one or more statements
};

// All migrations, in ascending version order.
std::span<const Migration> Migrations();

// Brings the database up to Migrations().back().version in one BEGIN IMMEDIATE
// transaction, recording each step in schema_migrations. Safe to run from
// several processes at once: the write lock serialises them and the later ones
// find nothing left to do. Fails (kInternal) if the file was migrated by a newer
// build, rather than writing into a schema this build does not know.
core::Result<void> ApplyMigrations(Connection& conn, std::span<const Migration> migrations = Migrations());

}  // namespace shopd::storage::sqlite

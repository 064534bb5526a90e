// storage/sqlite: test helpers for every test of a SQLite backend.
// Header-only, for test targets only.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "core/testing/temp_dir.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::storage::sqlite::test_util {

using shopd::testing::TempDir;

// Opens (creating and migrating) the database in `dir`, or throws.
inline std::unique_ptr<SqliteDatabase> OpenOrDie(const std::string& dir, int busy_timeout_ms = 5000) {
  auto db = SqliteDatabase::Open({.data_dir = dir, .busy_timeout_ms = busy_timeout_ms});
  if (!db) throw std::runtime_error("open failed: " + db.error().internal);
  return std::move(*db);
}

}  // namespace shopd::storage::sqlite::test_util

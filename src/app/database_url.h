// app: which database a command uses, from `--database-url` (or
// SHOPD_DATABASE_URL, or the file SHOPD_DATABASE_URL_FILE names, so that a
// password stays out of the command line and the environment listing).
//
//   sqlite:PATH           the embedded topology: one SQLite file
//   postgres://...        the scale-out topology (postgresql:// too); libpq
//                         takes the URL as it is
//   (none)                sqlite in --data-dir
#pragma once

#include <string>

#include "core/error.h"

namespace shopd::app {

struct DatabaseTarget {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string sqlite_dir;   // kSqlite: the file's directory
  std::string sqlite_file;  // kSqlite: its name
  std::string url;          // kPostgres: the URL, for libpq
  bool postgres() const { return kind == Kind::kPostgres; }
};

// `value` when not empty, else the first line of SHOPD_DATABASE_URL_FILE's
// file when that is set, else "". kInvalidArgument when the file is unreadable.
core::Result<std::string> DatabaseUrlOrFile(const std::string& value);

// What `url` names; "" is SQLite in `data_dir`. kInvalidArgument for any
// other scheme, naming the ones understood.
core::Result<DatabaseTarget> ParseDatabaseUrl(const std::string& url, const std::string& data_dir);

// `url` with its password replaced by ***, for messages and logs.
std::string RedactedUrl(const std::string& url);

}  // namespace shopd::app

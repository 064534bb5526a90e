// app: one serving process — every service over the backends --database-url
// names (app/backends.h): SQLite in one file (the embedded topology) or
// PostgreSQL shared by many replicas (scale-out), with the in-process rate
// limiter and cache. Depends on everything below it.
//
//   Bootstrap(settings);           // once, before any worker process starts
//   return RunServer(settings);    // blocks until SIGTERM has drained
#pragma once

#include "app/settings.h"
#include "core/error.h"

namespace shopd::app {

// Opens the database (migrating SQLite; checking PostgreSQL's schema) and
// makes sure the bootstrap admin exists. Starts and stops its own threads, so
// it is safe to call before fork().
core::Result<void> Bootstrap(const Settings& settings);

// Builds the components in dependency order, serves, and tears them down in
// reverse. Returns the process exit code.
int RunServer(const Settings& settings);

}  // namespace shopd::app

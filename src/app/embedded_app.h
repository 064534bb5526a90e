// app: the embedded topology — every service in one process over SQLite, the
// in-process rate limiter and cache. Depends on everything below it.
//
//   Bootstrap(settings);        // once, before any worker process starts
//   return ServeEmbedded(settings);   // blocks until SIGTERM has drained
#pragma once

#include "app/settings.h"
#include "core/error.h"

namespace shopd::app {

// Migrates the database and makes sure the bootstrap admin exists. Starts and
// stops its own threads, so it is safe to call before fork().
core::Result<void> Bootstrap(const Settings& settings);

// Builds the components in dependency order, serves, and tears them down in
// reverse. Returns the process exit code.
int ServeEmbedded(const Settings& settings);

}  // namespace shopd::app

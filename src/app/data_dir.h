// app: the embedded data directory and the secrets kept in it.
#pragma once

#include <string>

#include "core/error.h"

namespace shopd::app {

// Creates the directory (mode 0700) if needed; fails if it is not writable.
core::Result<void> EnsureDataDir(const std::string& dir);

// SHOPD_JWT_SECRET when set; otherwise a 256-bit key generated once and kept in
// <dir>/jwt_secret (mode 0600), so tokens survive restarts and are shared by
// every worker process. Creation is race-free (O_EXCL) across processes.
core::Result<std::string> LoadOrCreateJwtSecret(const std::string& dir);

}  // namespace shopd::app

// app: the embedded data directory (database, generated signing key).
//
//   if (auto ok = EnsureDataDir(dir); !ok) { print ok.error().message (it names the fix); exit non-zero; }
#pragma once

#include <string>

#include "core/error.h"

namespace shopd::app {

// Creates the directory and any missing parents with mode 0700. Fails, naming
// the fix, when it is not a directory, is not owned by the user running
// shopd, is writable by group or others (who could then replace the database
// or plant a key file), or is not writable by us. An existing directory's mode
// is never changed behind the operator's back.
core::Result<void> EnsureDataDir(const std::string& dir);

}  // namespace shopd::app

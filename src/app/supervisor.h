// app: process supervision, like the Node cluster module it replaces.
//
// Forks `processes` workers that each run `worker_main` (they share the
// listening port through SO_REUSEPORT), restarts any that dies with a log line
// giving the cause, and on SIGTERM/SIGINT forwards the signal and waits for
// every worker to drain. The supervisor itself stays single-threaded, so
// fork() is always safe.
#pragma once

#include <cstdint>
#include <functional>

namespace shopd::app {

struct SupervisorOptions {
  int processes = 1;
  int64_t shutdown_grace_ms = 15'000;  // after SIGTERM, then SIGKILL
};

int RunSupervisor(const SupervisorOptions& options, const std::function<int()>& worker_main);

}  // namespace shopd::app

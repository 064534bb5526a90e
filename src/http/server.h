// http: the HTTP/1.1 server — one io_context per reactor thread, each with its
// own SO_REUSEPORT acceptor, keep-alive and pipelining, limits and timeouts,
// graceful drain. Depends on core, obs. Beast stays in server.cc (pimpl).
//
//   Server server(config, router, std::move(middlewares), &authenticator);
//   server.Listen();          // binds now, so start-up errors surface early
//   server.Run();             // blocks until SIGTERM/SIGINT drained, or Stop()
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "http/fwd.h"
#include "http/server_config.h"

namespace shopd::obs {
class MetricsRegistry;
}

namespace shopd::http {

class Authenticator;

class Server {
 public:
  Server(ServerConfig config, const Router& router, std::vector<std::unique_ptr<Middleware>> middlewares,
         const Authenticator* authenticator, obs::MetricsRegistry* metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every reactor's acceptor (throws std::system_error on failure).
  void Listen();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Runs the reactors on `threads` threads (this one included) until drained.
  // Handles SIGTERM and SIGINT itself when `handle_signals`.
  void Run(bool handle_signals = true);
  // Starts a graceful drain from any thread.
  void Stop();

  // Called on each reactor thread every ~100 ms (e.g. to flush per-thread
  // log buffers) and once when the reactor stops.
  void SetPeriodicHook(std::function<void()> hook);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::http

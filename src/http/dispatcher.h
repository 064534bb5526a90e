// http: one request through middleware, routing, auth and the handler.
// Depends on core. Internal to the server, public for tests.
//
// Split in two halves so synchronous routes never create a coroutine:
//   Dispatcher::Pending p;
//   d.Begin(req, p);
//   if (p.async_route) p.response = co_await p.async_route->async(req);  (+ catch)
//   d.Finish(req, p);
#pragma once

#include <exception>
#include <memory>
#include <vector>

#include "http/middleware.h"
#include "http/router.h"

namespace shopd::http {

class Authenticator;

class Dispatcher {
 public:
  struct Pending {
    Response response;
    const Route* async_route = nullptr;  // set when the caller must await the handler
    size_t middlewares_ran = 0;
  };

  Dispatcher(const Router& router, std::vector<std::unique_ptr<Middleware>> middlewares,
             const Authenticator* authenticator);

  void Begin(Request& req, Pending& p) const;
  void Finish(Request& req, Pending& p) const;
  // A response to a request that could not be parsed (431, 413, 400): still
  // gets a request id, security headers, a log line and a metric.
  // The connection is closed after it.
  Response ForProtocolError(Request& req, int status, std::string_view slug, std::string_view detail) const;

  // The 500 for an escaped exception; logs it with the request id.
  Response InternalError(const Request& req, std::exception_ptr e) const;

 private:
  const Router& router_;
  std::vector<std::unique_ptr<Middleware>> middlewares_;
  const Authenticator* authenticator_;
  // By route index: each route that requires auth, as an async route that
  // awaits the authenticator's Confirm step and then runs the real handler.
  std::vector<std::unique_ptr<Route>> confirming_;
};

}  // namespace shopd::http

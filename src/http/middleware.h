// http: the middleware chain. Depends on core.
//
// Each middleware sees every request before routing (OnRequest, in order; a
// returned response short-circuits the rest) and every response after the
// handler (OnResponse, in reverse order, also for short-circuited and failed
// requests). Both hooks are synchronous on purpose: they run on the reactor
// thread for every request, and plain calls cost far less than coroutines.
#pragma once

#include <optional>

#include "http/request.h"
#include "http/response.h"

namespace shopd::http {

class Middleware {
 public:
  virtual ~Middleware() = default;
  virtual std::optional<Response> OnRequest(Request& req) { return std::nullopt; }
  virtual void OnResponse(const Request& req, Response& res) {}
};

}  // namespace shopd::http

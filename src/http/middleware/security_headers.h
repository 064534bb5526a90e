// http: security headers on every response; no-store where routes ask for it.
#pragma once

#include "http/middleware.h"

namespace shopd::http {

class SecurityHeadersMiddleware final : public Middleware {
 public:
  void OnResponse(const Request& req, Response& res) override;
};

}  // namespace shopd::http

// http: X-Request-Id — keep a well-formed client id, else generate one; echo it.
#pragma once

#include "http/middleware.h"

namespace shopd::http {

class RequestIdMiddleware final : public Middleware {
 public:
  std::optional<Response> OnRequest(Request& req) override;
  void OnResponse(const Request& req, Response& res) override;

  // 1..128 chars of [A-Za-z0-9._:-]: anything else could inject into logs.
  static bool IsAcceptable(std::string_view id);
};

}  // namespace shopd::http

// http: CORS for an explicit list of origins (none by default: same-origin only).
//
// A request whose Origin is listed gets Access-Control-Allow-Origin echoing it
// (never `*`, since requests carry credentials in Authorization); a preflight
// (OPTIONS + Access-Control-Request-Method) is answered here with 204.
#pragma once

#include <string>
#include <vector>

#include "http/middleware.h"

namespace shopd::http {

class CorsMiddleware final : public Middleware {
 public:
  explicit CorsMiddleware(std::vector<std::string> allowed_origins);
  std::optional<Response> OnRequest(Request& req) override;
  void OnResponse(const Request& req, Response& res) override;

 private:
  bool Allowed(std::string_view origin) const;
  std::vector<std::string> origins_;
};

}  // namespace shopd::http

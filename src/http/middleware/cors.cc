#include "http/middleware/cors.h"

namespace shopd::http {

CorsMiddleware::CorsMiddleware(std::vector<std::string> allowed_origins)
    : origins_(std::move(allowed_origins)) {}

bool CorsMiddleware::Allowed(std::string_view origin) const {
  if (origin.empty()) return false;
  for (const auto& o : origins_)
    if (o == origin) return true;
  return false;
}

std::optional<Response> CorsMiddleware::OnRequest(Request& req) {
  if (req.method() != Method::kOptions || req.Header("Access-Control-Request-Method").empty())
    return std::nullopt;
  Response res = Response::Empty(204);
  if (Allowed(req.Header("Origin"))) {
    res.SetHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    res.SetHeader("Access-Control-Allow-Headers",
                  "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
    res.SetHeader("Access-Control-Max-Age", "600");
  }
  return res;
}

void CorsMiddleware::OnResponse(const Request& req, Response& res) {
  if (origins_.empty()) return;
  std::string_view origin = req.Header("Origin");
  if (Allowed(origin)) {
    res.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    res.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
  }
  res.headers.emplace_back("Vary", "Origin");
}

}  // namespace shopd::http

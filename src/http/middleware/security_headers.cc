#include "http/middleware/security_headers.h"

namespace shopd::http {

void SecurityHeadersMiddleware::OnResponse(const Request& req, Response& res) {
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  // Auth and user documents must not be kept by shared or browser caches.
  std::string_view path = req.path();
  if (path.starts_with("/v1/auth/") || path.starts_with("/v1/users/"))
    if (res.GetHeader("Cache-Control").empty()) res.headers.emplace_back("Cache-Control", "no-store");
}

}  // namespace shopd::http

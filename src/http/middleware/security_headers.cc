#include "http/middleware/security_headers.h"

namespace shopd::http {

namespace {
constexpr std::string_view kSecurityHeaders =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    // The API serves JSON only: nothing may be loaded from, or frame, a response.
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n";
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
}  // namespace

void SecurityHeadersMiddleware::OnResponse(const Request& req, Response& res) {
  res.static_header_blocks.push_back(kSecurityHeaders);
  // Auth and user documents must not be kept by shared or browser caches.
  std::string_view path = req.path();
  if (path.starts_with("/v1/auth/") || path.starts_with("/v1/users/"))
    if (res.GetHeader("Cache-Control").empty()) res.static_header_blocks.push_back(kNoStore);
}

}  // namespace shopd::http

#include "http/middleware/request_id.h"

#include "core/random.h"

namespace shopd::http {

bool RequestIdMiddleware::IsAcceptable(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<Response> RequestIdMiddleware::OnRequest(Request& req) {
  std::string_view given = req.Header("X-Request-Id");
  if (IsAcceptable(given)) req.SetRequestId(std::string(given));
  else req.SetRequestId(core::FastId());
  return std::nullopt;
}

void RequestIdMiddleware::OnResponse(const Request& req, Response& res) {
  res.headers.emplace_back("X-Request-Id", std::string(req.request_id()));
}

}  // namespace shopd::http

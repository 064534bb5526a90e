#include "http/paging.h"

#include <charconv>
#include <string>

namespace shopd::http {

int PageLimit(const Request& req) {
  std::string text;
  if (!req.QueryParam("limit", text)) return 20;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 1 || v > 100) return 0;
  return v;
}

core::Error BadPageLimit() {
  return core::Error::Invalid("limit must be an integer from 1 to 100").WithType("invalid-limit");
}

}  // namespace shopd::http

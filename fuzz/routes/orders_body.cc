#include "services/orders/http_routes.cc"

#include "fuzz/routes/route_bodies.h"

namespace shopd::fuzz {

core::Result<std::vector<services::OrderLine>> ReadOrderBody(const http::Request& req) {
  return services::ReadLines(req);
}

}  // namespace shopd::fuzz

#include "services/catalog/http_routes.cc"

#include "fuzz/routes/route_bodies.h"

namespace shopd::fuzz {

core::Result<services::ProductInput> ReadProductBody(const http::Request& req) {
  return services::ReadProduct(req);
}

}  // namespace shopd::fuzz

#include "services/users/http_routes.cc"

#include "fuzz/routes/route_bodies.h"

namespace shopd::fuzz {

core::Result<std::string> ReadRefreshTokenBody(const http::Request& req) { return services::ReadRefreshToken(req); }

}  // namespace shopd::fuzz

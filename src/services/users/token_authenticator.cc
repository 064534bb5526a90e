#include "services/users/token_authenticator.h"

namespace shopd::services {

core::Result<http::Principal> TokenAuthenticator::Authenticate(std::string_view token) const {
  auto claims = jwt_.Verify(token, clock_.UnixSeconds());
  if (!claims) return claims.error();
  if (claims->role != "user" && claims->role != "admin")
    return core::Error::Make(core::Errc::kUnauthenticated, "invalid token", "unknown role claim");
  return http::Principal{std::move(claims->sub), std::move(claims->role)};
}

}  // namespace shopd::services

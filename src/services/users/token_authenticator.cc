#include "services/users/token_authenticator.h"

#include "services/users/users_service.h"

namespace shopd::services {

core::Result<core::Principal> TokenAuthenticator::Authenticate(std::string_view token) const {
  auto claims = jwt_.Verify(token, clock_.UnixSeconds());
  if (!claims) return claims.error();
  if (claims->role != "user" && claims->role != "admin")
    return core::Error::Make(core::Errc::kUnauthenticated, "invalid token", "unknown role claim");
  core::Principal who{std::move(claims->sub), std::move(claims->role), claims->ver};
  auto live = users_.CheckSessionCached(who.user_id, who.token_version);
  if (!live) {
    who.needs_confirmation = true;
  } else if (!*live) {
    return live->error();
  }
  return who;
}

boost::asio::awaitable<core::Result<void>> TokenAuthenticator::Confirm(const core::Principal& who) const {
  co_return co_await users_.CheckSession(who.user_id, who.token_version);
}

}  // namespace shopd::services

// services/users: verifies bearer access tokens for the HTTP server, and that
// their session is still live (the token version against the user's).
//
// The version check answers from the user cache when it can; otherwise the
// principal is marked for confirmation and Confirm reads the user. So within
// one process a revocation is seen at once, and across processes within the
// user cache's TTL.
#pragma once

#include "auth/jwt.h"
#include "core/clock.h"
#include "http/authenticator.h"

namespace shopd::services {

class UsersService;

class TokenAuthenticator final : public http::Authenticator {
 public:
  // All must outlive the authenticator.
  TokenAuthenticator(const auth::JwtCodec& jwt, const core::Clock& clock, UsersService& users)
      : jwt_(jwt), clock_(clock), users_(users) {}

  // http::Authenticator
  core::Result<core::Principal> Authenticate(std::string_view token) const override;
  boost::asio::awaitable<core::Result<void>> Confirm(const core::Principal& who) const override;

 private:
  const auth::JwtCodec& jwt_;
  const core::Clock& clock_;
  UsersService& users_;
};

}  // namespace shopd::services

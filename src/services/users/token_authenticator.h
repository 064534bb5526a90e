// services/users: verifies bearer access tokens for the HTTP server.
#pragma once

#include "auth/jwt.h"
#include "core/clock.h"
#include "http/authenticator.h"

namespace shopd::services {

class TokenAuthenticator final : public http::Authenticator {
 public:
  TokenAuthenticator(const auth::JwtCodec& jwt, const core::Clock& clock) : jwt_(jwt), clock_(clock) {}

  // http::Authenticator
  core::Result<http::Principal> Authenticate(std::string_view token) const override;

 private:
  const auth::JwtCodec& jwt_;
  const core::Clock& clock_;
};

}  // namespace shopd::services

// core: who is calling. Set by the HTTP layer once a bearer token is
// verified, and passed to the services, which authorize with it; a plain
// value, so services need no HTTP header to take it.
#pragma once

#include <cstdint>
#include <string>

namespace shopd::core {

struct Principal {
  std::string user_id;
  std::string role;  // "user" | "admin"
  int64_t token_version = 0;  // of the access token (see auth::AccessClaims::ver)
  // Set by an Authenticator that could not decide from memory whether the
  // session is still live; the dispatcher then awaits its Confirm step.
  bool needs_confirmation = false;
  bool IsAdmin() const { return role == "admin"; }
};

}  // namespace shopd::core

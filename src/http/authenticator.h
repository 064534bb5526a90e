// http: how routes marked `requires_auth` learn who is calling. Depends on core.
//
// The server calls Authenticate with the bearer token of every request to such
// a route before the handler runs; an error becomes a 401 problem. The
// implementation (JWT verification) lives in auth/ so http stays free of it.
#pragma once

#include <string_view>

#include "core/error.h"
#include "http/request.h"

namespace shopd::http {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `token` is the credential after "Bearer ", never empty.
  virtual core::Result<Principal> Authenticate(std::string_view token) const = 0;
};

}  // namespace shopd::http

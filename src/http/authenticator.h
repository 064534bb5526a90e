// http: how routes marked `requires_auth` learn who is calling. Depends on core.
//
// The server calls Authenticate with the bearer token of every request to such
// a route before the handler runs; an error becomes a 401 problem. The
// implementation (JWT verification) lives in auth/ so http stays free of it.
//
// Authenticate is synchronous and must answer from memory. When it cannot
// tell whether the session is still live (say, the user is not cached), it
// sets `needs_confirmation` on the principal, and the dispatcher awaits
// Confirm before the handler: the one round trip is paid only then.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "core/error.h"
#include "http/request.h"

namespace shopd::http {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `token` is the credential after "Bearer ", never empty.
  virtual core::Result<core::Principal> Authenticate(std::string_view token) const = 0;
  // An error becomes a 401 problem. Never blocks the calling thread.
  virtual boost::asio::awaitable<core::Result<void>> Confirm(const core::Principal& who) const {
    (void)who;
    co_return core::Result<void>{};
  }
};

}  // namespace shopd::http

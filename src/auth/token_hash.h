// auth: digests for secrets stored server-side. Depends on nothing but OpenSSL.
//
// Refresh tokens are stored as their SHA-256, never in clear: a leaked table
// then yields no usable token. A plain hash (no salt, no stretching) suffices
// because the tokens are long random strings, not guessable passwords.
//
//   std::string token = core::SecureToken(32);        // handed to the client
//   store.SaveRefreshToken(user_id, Sha256Hex(token));  // only the digest is kept
#pragma once

#include <string>
#include <string_view>

namespace shopd::auth {

// Lowercase hex SHA-256 of `bytes` (64 characters).
std::string Sha256Hex(std::string_view bytes);

}  // namespace shopd::auth

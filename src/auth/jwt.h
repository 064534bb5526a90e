// auth: JSON Web Tokens, HS256 only (RFC 7515 / RFC 7519). Depends on core.
//
// Verification accepts exactly one algorithm, HS256: `alg: none`, RS256 and
// anything else are rejected before any signature check, so an attacker cannot
// choose the algorithm. The signature is compared in constant time.
//
//   JwtCodec jwt(secret);
//   std::string token = jwt.Sign(AccessClaims{...});
//   core::Result<AccessClaims> c = jwt.Verify(token, clock.UnixSeconds());
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shopd::auth {

struct AccessClaims {
  std::string sub;   // user id
  std::string role;  // "user" | "admin"
  std::string jti;   // token id
  int64_t iat = 0;
  int64_t exp = 0;
  // `ver`: the user's token version when the token was signed. Logging out
  // everywhere (or a role or password change) raises the user's version, which
  // retires every token signed before. Absent in tokens of older builds: 0.
  int64_t ver = 0;
};

class JwtCodec {
 public:
  // `secret` is the raw HMAC key (at least 32 bytes is recommended).
  explicit JwtCodec(std::string secret, int64_t leeway_s = 30);
  ~JwtCodec();
  JwtCodec(const JwtCodec&) = delete;
  JwtCodec& operator=(const JwtCodec&) = delete;

  std::string Sign(const AccessClaims& claims) const;
  // kUnauthenticated with a client-safe message on any defect: malformed token,
  // wrong alg, bad signature, expired, missing claims.
  core::Result<AccessClaims> Verify(std::string_view token, int64_t now_unix) const;

  // Lower level, for test vectors: signs/verifies an arbitrary JOSE header and
  // payload (both JSON text). VerifyRaw returns the decoded payload JSON.
  std::string SignRaw(std::string_view header_json, std::string_view payload_json) const;
  core::Result<std::string> VerifyRaw(std::string_view token) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t leeway_s_;
};

}  // namespace shopd::auth

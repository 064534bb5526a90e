// auth: password hashing with argon2id (memory-hard). Depends on core.
//
// Slow by design (tens of milliseconds): call it off the event loop, through
// exec::WorkerPool. Hashes are PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
// so parameters can be raised later without invalidating stored hashes.
//
//   PasswordHasher hasher;                    // OWASP defaults: 19 MiB, t=2, p=1
//   std::string phc = hasher.Hash("hunter22");
//   bool ok = hasher.Verify(phc, "hunter22");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shopd::auth {

struct Argon2Params {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

class PasswordHasher {
 public:
  explicit PasswordHasher(Argon2Params params = {}) : params_(params) {}

  // A fresh random salt each call. Throws std::runtime_error only if argon2
  // itself fails (out of memory).
  std::string Hash(std::string_view password) const;
  // False for a wrong password and for a malformed hash; constant-time compare.
  bool Verify(std::string_view phc_hash, std::string_view password) const;

  // A valid hash of a random password, to verify against when the account does
  // not exist, so that a login for an unknown email costs as much as one for a
  // known email (no user enumeration by timing).
  const std::string& DummyHash() const;

 private:
  Argon2Params params_;
};

}  // namespace shopd::auth

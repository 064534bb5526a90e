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

// The OWASP Password Storage Cheat Sheet's minimum argon2id configurations
// (p=1): equally strong trades of memory for iterations. Parameters meet the
// floor when they reach both figures of at least one row; parallelism does
// not count (more lanes do not make a guess cost more).
struct Argon2FloorRow {
  uint32_t memory_kib;
  uint32_t iterations;
};
inline constexpr Argon2FloorRow kOwaspArgon2Floor[] = {
    {47104, 1}, {19456, 2}, {12288, 3}, {9216, 4}, {7168, 5}};

bool MeetsOwaspFloor(const Argon2Params& params);
// The table above as text for messages: "m>=47104 KiB with t>=1, m>=19456 KiB with t>=2, ...".
std::string DescribeOwaspFloor();

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

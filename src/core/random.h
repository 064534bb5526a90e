// core: randomness. Depends on nothing but OpenSSL's CSPRNG.
//
// SecureRandomBytes/SecureToken are for secrets (refresh tokens, JWT keys);
// FastId is for non-secret identifiers on hot paths (request ids).
#pragma once

#include <cstdint>
#include <string>

namespace shopd::core {

// Cryptographically secure bytes; aborts the process if the CSPRNG fails
// (there is no safe way to continue without it).
void SecureRandomBytes(void* out, size_t n);

// `n_bytes` secure random bytes, base64url-encoded without padding.
std::string SecureToken(size_t n_bytes);

// A 32-hex-char identifier from a per-thread PRNG seeded from the CSPRNG.
// Unique enough for request ids; never use it as a secret.
std::string FastId();
void AppendFastId(std::string& out);

// A random (version 4) UUID string, from the CSPRNG: user ids, token ids.
std::string NewUuid();

}  // namespace shopd::core

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

// A time-ordered (version 7, RFC 9562) UUID string: 48 bits of `unix_ms`,
// then 74 CSPRNG bits. For rows written at a high rate (orders): ids made
// close in time sort close together, so a B-tree insert touches the index's
// last pages instead of a random page each, which is most of what a commit
// writes. It reveals the creation time, which such rows show anyway.
std::string NewUuidV7(int64_t unix_ms);

}  // namespace shopd::core

#include "ratelimit/stored_key.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

std::string StoredKey(std::string_view key) {
  if (key.size() <= kMaxStoredKeyBytes) return std::string(key);
  // '#' + 32 raw digest bytes: 33 bytes, never equal to a short key of
  // another length, and a collision needs a SHA-256 collision.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("ratelimit: SHA-256 failed");
  std::string out(1, '#');
  out.append(reinterpret_cast<const char*>(digest), len);
  return out;
}

}  // namespace shopd::ratelimit

#include "auth/token_hash.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace shopd::auth {
namespace {

// Fetched once rather than implicitly on every EVP_Digest call. Process lifetime.
const EVP_MD* Sha256() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) throw std::runtime_error("token_hash: EVP_MD_fetch(SHA256) failed");
    return m;
  }();
  return md;
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, Sha256(), nullptr) != 1) {
    throw std::runtime_error("token_hash: EVP_Digest failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * len, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace shopd::auth

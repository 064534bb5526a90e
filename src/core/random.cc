#include "core/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

#include "core/base64url.h"

namespace shopd::core {

void SecureRandomBytes(void* out, size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(n)) != 1) {
    std::fputs("fatal: RAND_bytes failed\n", stderr);
    std::abort();
  }
}

std::string SecureToken(size_t n_bytes) {
  std::string raw(n_bytes, '\0');
  SecureRandomBytes(raw.data(), raw.size());
  return Base64UrlEncode(raw);
}

namespace {
// xoshiro256** — fast, good statistical quality, not cryptographic.
struct Xoshiro {
  uint64_t s[4];
  Xoshiro() { SecureRandomBytes(s, sizeof s); }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    const uint64_t result = Rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 45);
    return result;
  }
};
thread_local Xoshiro tls_rng;
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

void AppendFastId(std::string& out) {
  const size_t at = out.size();
  out.resize(at + 32);
  char* p = out.data() + at;
  for (int half = 0; half < 2; ++half) {
    uint64_t v = tls_rng.Next();
    for (int i = 0; i < 16; ++i, v >>= 4) *p++ = kHex[v & 0xf];
  }
}

std::string FastId() {
  std::string s;
  AppendFastId(s);
  return s;
}

namespace {
std::string FormatUuid(const unsigned char (&b)[16]) {
  std::string out(36, '-');
  size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // the dashes
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0xf];
  }
  return out;
}
}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  SecureRandomBytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return FormatUuid(b);
}

std::string NewUuidV7(int64_t unix_ms) {
  unsigned char b[16];
  SecureRandomBytes(b, sizeof b);
  const auto ms = static_cast<uint64_t>(unix_ms < 0 ? 0 : unix_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  return FormatUuid(b);
}

}  // namespace shopd::core

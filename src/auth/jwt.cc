#include "auth/jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>

#include "core/base64url.h"

namespace shopd::auth {
namespace {

constexpr size_t kMacBytes = 32;
// base64url of 32 bytes without padding.
constexpr size_t kMacB64Chars = 43;
// Far above any token we issue; bounds the work an unauthenticated client can cause.
constexpr size_t kMaxTokenBytes = 8 * 1024;
// base64url of {"alg":"HS256","typ":"JWT"}: every token we sign carries exactly this
// header, so Verify can skip parsing it on the hot path.
constexpr std::string_view kOwnHeaderJson = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kOwnHeaderB64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

core::Error Reject(std::string internal, std::string message = "invalid token") {
  return core::Error::Make(core::Errc::kUnauthenticated, std::move(message),
                           "jwt: " + std::move(internal));
}

// Fetched once: EVP_MAC_fetch walks the provider store and is the costly part of
// the one-shot HMAC() in OpenSSL 3. Never freed (process lifetime), so contexts
// alive in exiting threads can never outlive it.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) throw std::runtime_error("jwt: EVP_MAC_fetch(HMAC) failed");
    return m;
  }();
  return mac;
}

// Instance ids are never reused, so a thread's cached context cannot be picked up
// by a later codec that happens to live at the same address with another key.
std::atomic<uint64_t> next_codec_id{1};

// A few keyed HMAC contexts per thread, one per codec recently used on this
// thread (normally just one). Evicted round-robin; freed at thread exit.
class ThreadMacCache {
 public:
  ThreadMacCache() = default;
  ThreadMacCache(const ThreadMacCache&) = delete;
  ThreadMacCache& operator=(const ThreadMacCache&) = delete;
  ~ThreadMacCache() {
    for (auto& s : slots_) EVP_MAC_CTX_free(s.ctx);
  }

  // A context keyed like `keyed_template`, or nullptr if OpenSSL fails.
  EVP_MAC_CTX* Get(uint64_t codec_id, const EVP_MAC_CTX* keyed_template) {
    for (auto& s : slots_) {
      if (s.codec_id == codec_id) return s.ctx;
    }
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_template);
    if (ctx == nullptr) return nullptr;
    Slot& victim = slots_[next_victim_];
    next_victim_ = (next_victim_ + 1) % slots_.size();
    EVP_MAC_CTX_free(victim.ctx);
    victim = Slot{codec_id, ctx};
    return ctx;
  }

 private:
  struct Slot {
    uint64_t codec_id = 0;
    EVP_MAC_CTX* ctx = nullptr;
  };
  std::array<Slot, 4> slots_{};
  size_t next_victim_ = 0;
};

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // header "." payload
};

std::optional<Segments> Split(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  return Segments{token.substr(0, first), token.substr(first + 1, second - first - 1),
                  token.substr(second + 1), token.substr(0, second)};
}

// Empty on success, else the reason. The algorithm is pinned here, before any
// signature work, so the token cannot choose it.
std::string CheckHeader(std::string_view header_b64) {
  if (header_b64 == kOwnHeaderB64) return {};
  auto json = core::Base64UrlDecode(header_b64);
  if (!json) return "header is not base64url";
  unsigned char buf[1024];
  boost::json::monotonic_resource mr(buf, sizeof buf);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*json, ec, &mr);
  if (ec) return "header is not JSON: " + ec.message();
  const boost::json::object* obj = v.if_object();
  if (obj == nullptr) return "header is not a JSON object";
  const boost::json::value* alg = obj->if_contains("alg");
  if (alg == nullptr) return "header has no alg";
  if (!alg->is_string() || alg->get_string() != "HS256") {
    return "alg not allowed: " + boost::json::serialize(*alg).substr(0, 32);
  }
  if (const boost::json::value* typ = obj->if_contains("typ")) {
    if (!typ->is_string() || typ->get_string() != "JWT") return "typ is not JWT";
  }
  // RFC 7515 §4.1.11: extensions we do not implement must make the token invalid.
  if (obj->contains("crit")) return "crit header not supported";
  return {};
}

std::optional<std::string> GetNonEmptyString(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string() || v->get_string().empty()) return std::nullopt;
  return std::string(v->get_string());
}

std::optional<int64_t> GetInt(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->get_int64();
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

}  // namespace

struct JwtCodec::Impl {
  uint64_t id = next_codec_id.fetch_add(1, std::memory_order_relaxed);
  // Keyed once; threads dup it into their cache and only re-init per token.
  EVP_MAC_CTX* keyed_template = nullptr;

  ~Impl() { EVP_MAC_CTX_free(keyed_template); }

  // False only if OpenSSL itself fails (allocation).
  bool Mac(std::string_view data, unsigned char (&out)[kMacBytes]) const {
    thread_local ThreadMacCache cache;
    EVP_MAC_CTX* ctx = cache.Get(id, keyed_template);
    if (ctx == nullptr) return false;
    size_t out_len = 0;
    // A NULL key re-initialises with the key already set: no re-keying, no fetches.
    return EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1 &&
           EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1 && out_len == kMacBytes;
  }

  // The token's payload bytes once its shape, header and signature check out.
  core::Result<std::string> CheckSigned(std::string_view token) const {
    if (token.size() > kMaxTokenBytes) return Reject("token too long");
    auto seg = Split(token);
    if (!seg) return Reject("not three segments");
    if (std::string bad = CheckHeader(seg->header); !bad.empty()) return Reject(std::move(bad));
    if (seg->signature.size() != kMacB64Chars) return Reject("bad signature length");
    auto sig = core::Base64UrlDecode(seg->signature);
    if (!sig || sig->size() != kMacBytes) return Reject("signature is not base64url");
    unsigned char expected[kMacBytes];
    if (!Mac(seg->signing_input, expected)) {
      return core::Error::Make(core::Errc::kInternal, "internal error", "jwt: HMAC failed");
    }
    if (CRYPTO_memcmp(expected, sig->data(), kMacBytes) != 0) return Reject("bad signature");
    auto payload = core::Base64UrlDecode(seg->payload);
    if (!payload) return Reject("payload is not base64url");
    return std::move(*payload);
  }
};

JwtCodec::JwtCodec(std::string secret, int64_t leeway_s)
    : impl_(std::make_unique<Impl>()), leeway_s_(leeway_s) {
  if (secret.empty()) throw std::invalid_argument("jwt: empty secret");
  if (leeway_s < 0) throw std::invalid_argument("jwt: negative leeway");
  impl_->keyed_template = EVP_MAC_CTX_new(HmacAlgorithm());
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  bool ok = impl_->keyed_template != nullptr &&
            EVP_MAC_init(impl_->keyed_template,
                         reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                         params) == 1;
  // The key now lives only inside the OpenSSL context.
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!ok) throw std::runtime_error("jwt: cannot initialise HMAC-SHA256");
}

JwtCodec::~JwtCodec() = default;

std::string JwtCodec::Sign(const AccessClaims& claims) const {
  boost::json::object payload;
  payload["sub"] = claims.sub;
  payload["role"] = claims.role;
  payload["jti"] = claims.jti;
  payload["iat"] = claims.iat;
  payload["exp"] = claims.exp;
  payload["ver"] = claims.ver;
  return SignRaw(kOwnHeaderJson, boost::json::serialize(payload));
}

std::string JwtCodec::SignRaw(std::string_view header_json, std::string_view payload_json) const {
  std::string token = core::Base64UrlEncode(header_json);
  token += '.';
  token += core::Base64UrlEncode(payload_json);
  unsigned char mac[kMacBytes];
  if (!impl_->Mac(token, mac)) throw std::runtime_error("jwt: HMAC failed");
  token += '.';
  token += core::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
  return token;
}

core::Result<std::string> JwtCodec::VerifyRaw(std::string_view token) const {
  auto payload = impl_->CheckSigned(token);
  if (!payload) return payload.error();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*payload, ec);
  if (ec) return Reject("payload is not JSON: " + ec.message());
  if (!v.is_object()) return Reject("payload is not a JSON object");
  return payload;
}

core::Result<AccessClaims> JwtCodec::Verify(std::string_view token, int64_t now_unix) const {
  auto payload = impl_->CheckSigned(token);
  if (!payload) return payload.error();
  unsigned char buf[2048];
  boost::json::monotonic_resource mr(buf, sizeof buf);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*payload, ec, &mr);
  if (ec) return Reject("payload is not JSON: " + ec.message());
  const boost::json::object* obj = v.if_object();
  if (obj == nullptr) return Reject("payload is not a JSON object");

  AccessClaims c;
  auto sub = GetNonEmptyString(*obj, "sub");
  auto role = GetNonEmptyString(*obj, "role");
  auto jti = GetNonEmptyString(*obj, "jti");
  auto iat = GetInt(*obj, "iat");
  auto exp = GetInt(*obj, "exp");
  if (!sub || !role || !jti) return Reject("sub, role or jti missing or not a non-empty string");
  if (!iat || !exp) return Reject("iat or exp missing or not an integer");
  int64_t ver = 0;
  if (obj->contains("ver")) {
    auto v = GetInt(*obj, "ver");
    if (!v || *v < 0) return Reject("ver is not a non-negative integer");
    ver = *v;
  }
  // Saturating, so extreme claim values cannot wrap around into "valid".
  if (SaturatingAdd(*exp, leeway_s_) <= now_unix) {
    return Reject("expired at " + std::to_string(*exp), "token expired");
  }
  if (*iat > SaturatingAdd(now_unix, leeway_s_)) {
    return Reject("issued in the future at " + std::to_string(*iat));
  }
  c.sub = std::move(*sub);
  c.role = std::move(*role);
  c.jti = std::move(*jti);
  c.iat = *iat;
  c.exp = *exp;
  c.ver = ver;
  return c;
}

}  // namespace shopd::auth

// Fuzzes JWT verification (auth::JwtCodec::Verify / VerifyRaw).
//
// Random bytes almost never carry a valid HMAC, so the input has two shapes,
// chosen by its first byte:
//   even: the rest is a token, verified as sent;
//   odd:  the rest is "<header JSON>\n<payload JSON>", signed with the test key
//         first, so the header checks, the claim parsing and the expiry rules
//         are reached with a valid signature.
// Invariants beyond "no crash":
//   - a token VerifyRaw accepts re-signs to the very same token (decoding is
//     canonical: one token per header and payload);
//   - Verify accepts exactly what an independent reading of RFC 7519 + our
//     rules accepts (HS256 only, typ JWT if present, no crit, non-empty
//     string sub/role/jti, integer iat/exp inside the leeway);
//   - accepted claims survive Sign -> Verify unchanged;
//   - every rejection is a 401 with a client-safe message.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "core/base64url.h"
#include "fuzz/fuzz_check.h"

namespace {

using shopd::auth::AccessClaims;
using shopd::auth::JwtCodec;

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kLeeway = 30;
constexpr size_t kMaxTokenBytes = 8 * 1024;

const JwtCodec& Codec() {
  static const JwtCodec codec(std::string(32, 'k'), kLeeway);
  return codec;
}

void CheckRejection(const shopd::core::Error& e) {
  FUZZ_CHECK(e.code == shopd::core::Errc::kUnauthenticated);
  FUZZ_CHECK(e.message == "invalid token" || e.message == "token expired");
}

std::optional<boost::json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

bool NonEmptyString(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() && !v->get_string().empty();
}

// What Verify must decide for a correctly signed header + payload.
bool ShouldAccept(std::string_view header_json, std::string_view payload_json, size_t token_size) {
  if (token_size > kMaxTokenBytes) return false;
  auto h = ParseObject(header_json);
  if (!h) return false;
  const auto* alg = h->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") return false;
  if (const auto* typ = h->if_contains("typ"); typ && (!typ->is_string() || typ->get_string() != "JWT"))
    return false;
  if (h->contains("crit")) return false;
  auto p = ParseObject(payload_json);
  if (!p) return false;
  if (!NonEmptyString(*p, "sub") || !NonEmptyString(*p, "role") || !NonEmptyString(*p, "jti")) return false;
  const auto* iat = p->if_contains("iat");
  const auto* exp = p->if_contains("exp");
  if (iat == nullptr || exp == nullptr || !iat->is_int64() || !exp->is_int64()) return false;
  // In 128 bits, so the oracle cannot overflow where the codec saturates.
  if (static_cast<__int128>(exp->get_int64()) + kLeeway <= kNow) return false;
  if (static_cast<__int128>(iat->get_int64()) > static_cast<__int128>(kNow) + kLeeway) return false;
  // The token version is optional (tokens from before it existed are version 0).
  if (const auto* ver = p->if_contains("ver"); ver && (!ver->is_int64() || ver->get_int64() < 0)) return false;
  return true;
}

void CheckVerified(std::string_view token) {
  auto raw = Codec().VerifyRaw(token);
  auto claims = Codec().Verify(token, kNow);
  if (!raw) {
    CheckRejection(raw.error());
    FUZZ_CHECK(!claims);  // Verify is VerifyRaw plus claim checks
  } else {
    // Canonical: the decoded header and payload sign to the same bytes.
    std::string_view header_b64 = token.substr(0, token.find('.'));
    auto header = shopd::core::Base64UrlDecode(header_b64);
    FUZZ_CHECK(header.has_value());
    FUZZ_CHECK(Codec().SignRaw(*header, *raw) == token);
    FUZZ_CHECK(ParseObject(*raw).has_value());
    FUZZ_CHECK(claims.has_value() == ShouldAccept(*header, *raw, token.size()));
  }
  if (!claims) {
    CheckRejection(claims.error());
    return;
  }
  FUZZ_CHECK(!claims->sub.empty() && !claims->role.empty() && !claims->jti.empty());
  auto again = Codec().Verify(Codec().Sign(*claims), kNow);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->sub == claims->sub && again->role == claims->role && again->jti == claims->jti &&
             again->iat == claims->iat && again->exp == claims->exp && again->ver == claims->ver);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    CheckVerified(rest);
    return 0;
  }
  const size_t nl = rest.find('\n');
  const std::string_view header = rest.substr(0, nl);
  const std::string_view payload = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  const std::string token = Codec().SignRaw(header, payload);
  CheckVerified(token);
  auto claims = Codec().Verify(token, kNow);
  FUZZ_CHECK(claims.has_value() == ShouldAccept(header, payload, token.size()));
  return 0;
}

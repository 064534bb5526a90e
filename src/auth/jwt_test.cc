#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/base64url.h"

namespace shopd::auth {
namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";

// RFC 7515 Appendix A.1 (and RFC 7519 §3.1, the same token). The JSON texts
// keep the RFC's exact bytes, CR LF included: the signature covers them.
constexpr std::string_view kRfcKeyB64 =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::string_view kRfcHeader = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
constexpr std::string_view kRfcPayload =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
constexpr std::string_view kRfcToken =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    "."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

std::string RfcKey() { return *core::Base64UrlDecode(kRfcKeyB64); }

AccessClaims Claims() {
  return AccessClaims{.sub = "user-42", .role = "user", .jti = "tok-1", .iat = kNow,
                      .exp = kNow + 900};
}

void ExpectRejected(const core::Result<AccessClaims>& r, std::string_view message = "invalid token") {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, core::Errc::kUnauthenticated);
  EXPECT_EQ(r.error().message, message);
  EXPECT_FALSE(r.error().internal.empty());
}

std::vector<std::string> SplitDots(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(token.substr(start, dot - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

TEST(Jwt, Rfc7515AppendixA1Verifies) {
  JwtCodec jwt(RfcKey());
  auto payload = jwt.VerifyRaw(kRfcToken);
  ASSERT_TRUE(payload.has_value()) << payload.error().internal;
  EXPECT_EQ(*payload, kRfcPayload);
}

TEST(Jwt, Rfc7515AppendixA1SignsToTheRfcSignature) {
  JwtCodec jwt(RfcKey());
  EXPECT_EQ(jwt.SignRaw(kRfcHeader, kRfcPayload), kRfcToken);
}

TEST(Jwt, Rfc7519Section31TokenIsNotAnAccessToken) {
  // Valid signature but no sub/role/jti/iat, and long expired.
  JwtCodec jwt(RfcKey());
  ExpectRejected(jwt.Verify(kRfcToken, 1300819380 - 100));
}

TEST(Jwt, SignProducesTheFixedHeader) {
  JwtCodec jwt(kSecret);
  auto parts = SplitDots(jwt.Sign(Claims()));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(*core::Base64UrlDecode(parts[0]), R"({"alg":"HS256","typ":"JWT"})");
}

TEST(Jwt, RoundTrip) {
  JwtCodec jwt(kSecret);
  auto c = jwt.Verify(jwt.Sign(Claims()), kNow + 10);
  ASSERT_TRUE(c.has_value()) << c.error().internal;
  EXPECT_EQ(c->sub, "user-42");
  EXPECT_EQ(c->role, "user");
  EXPECT_EQ(c->jti, "tok-1");
  EXPECT_EQ(c->iat, kNow);
  EXPECT_EQ(c->exp, kNow + 900);
  EXPECT_EQ(c->ver, 0);
}

TEST(Jwt, TokenVersionRoundTripsAndDefaultsToZero) {
  JwtCodec jwt(kSecret);
  AccessClaims in = Claims();
  in.ver = 7;
  auto c = jwt.Verify(jwt.Sign(in), kNow);
  ASSERT_TRUE(c.has_value()) << c.error().internal;
  EXPECT_EQ(c->ver, 7);
  // Tokens signed before the claim existed carry version 0.
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  auto old = jwt.Verify(jwt.SignRaw(header, R"({"sub":"u","role":"user","jti":"j","iat":)" +
                                                std::to_string(kNow) + R"(,"exp":)" +
                                                std::to_string(kNow + 900) + "}"),
                        kNow);
  ASSERT_TRUE(old.has_value()) << old.error().internal;
  EXPECT_EQ(old->ver, 0);
  for (const char* bad : {R"("1")", "-1", "1.5", "null"}) {
    SCOPED_TRACE(bad);
    ExpectRejected(jwt.Verify(jwt.SignRaw(header, R"({"sub":"u","role":"user","jti":"j","iat":)" +
                                                      std::to_string(kNow) + R"(,"exp":)" +
                                                      std::to_string(kNow + 900) + R"(,"ver":)" + bad + "}"),
                              kNow));
  }
}

TEST(Jwt, RoundTripEscapesStrings) {
  JwtCodec jwt(kSecret);
  AccessClaims in = Claims();
  in.sub = "a\"b\\c\nd\xc3\xa9";
  auto c = jwt.Verify(jwt.Sign(in), kNow);
  ASSERT_TRUE(c.has_value()) << c.error().internal;
  EXPECT_EQ(c->sub, in.sub);
}

TEST(Jwt, ExpiryHonoursLeeway) {
  JwtCodec jwt(kSecret, /*leeway_s=*/30);
  std::string token = jwt.Sign(Claims());  // exp = kNow + 900
  EXPECT_TRUE(jwt.Verify(token, kNow + 900).has_value());
  EXPECT_TRUE(jwt.Verify(token, kNow + 929).has_value());
  ExpectRejected(jwt.Verify(token, kNow + 930), "token expired");
  ExpectRejected(jwt.Verify(token, kNow + 100'000), "token expired");
}

TEST(Jwt, ExpiredWithoutLeeway) {
  JwtCodec jwt(kSecret, 0);
  std::string token = jwt.Sign(Claims());
  EXPECT_TRUE(jwt.Verify(token, kNow + 899).has_value());
  ExpectRejected(jwt.Verify(token, kNow + 900), "token expired");
}

TEST(Jwt, IssuedInTheFutureRejected) {
  JwtCodec jwt(kSecret, 30);
  std::string token = jwt.Sign(Claims());  // iat = kNow
  EXPECT_TRUE(jwt.Verify(token, kNow - 30).has_value());
  ExpectRejected(jwt.Verify(token, kNow - 31));
}

TEST(Jwt, ExtremeTimesDoNotWrap) {
  JwtCodec jwt(kSecret, 30);
  AccessClaims c = Claims();
  c.exp = INT64_MAX;
  EXPECT_TRUE(jwt.Verify(jwt.Sign(c), kNow).has_value());
  c.exp = INT64_MIN;
  ExpectRejected(jwt.Verify(jwt.Sign(c), kNow), "token expired");
  c = Claims();
  c.iat = INT64_MAX;
  ExpectRejected(jwt.Verify(jwt.Sign(c), kNow));
  ExpectRejected(jwt.Verify(jwt.Sign(Claims()), INT64_MAX), "token expired");
  ExpectRejected(jwt.Verify(jwt.Sign(Claims()), INT64_MIN));  // issued "in the future"
}

TEST(Jwt, AlgNoneRejected) {
  JwtCodec jwt(kSecret);
  auto parts = SplitDots(jwt.Sign(Claims()));
  // {"alg":"none"} with an empty signature, as in RFC 7519 §6.1.
  std::string token = "eyJhbGciOiJub25lIn0." + parts[1] + ".";
  ASSERT_EQ(*core::Base64UrlDecode("eyJhbGciOiJub25lIn0"), R"({"alg":"none"})");
  ExpectRejected(jwt.Verify(token, kNow));
  EXPECT_FALSE(jwt.VerifyRaw(token).has_value());
  // Even if the attacker appends a signature that is valid for the rest.
  std::string signed_none = jwt.SignRaw(R"({"alg":"none"})", *core::Base64UrlDecode(parts[1]));
  ExpectRejected(jwt.Verify(signed_none, kNow));
}

TEST(Jwt, OtherAlgsRejectedEvenWithValidHmac) {
  JwtCodec jwt(kSecret);
  auto payload = *core::Base64UrlDecode(SplitDots(jwt.Sign(Claims()))[1]);
  for (std::string_view header : {
           R"({"alg":"HS512","typ":"JWT"})",
           R"({"alg":"HS384","typ":"JWT"})",
           R"({"alg":"RS256","typ":"JWT"})",
           R"({"alg":"hs256","typ":"JWT"})",
           R"({"alg":"HS256 ","typ":"JWT"})",
           R"({"alg":"None"})",
           R"({"typ":"JWT"})",
           R"({"alg":null})",
           R"({"alg":1})",
           R"({"alg":["HS256"]})",
           R"({"alg":"HS256","typ":"JWS"})",
           R"({"alg":"HS256","typ":1})",
           R"({"alg":"HS256","crit":["exp"],"exp":1})",
           R"(["HS256"])",
           R"("HS256")",
           R"({"alg":"HS256")",
           R"({"alg":"HS256"} x)",
       }) {
    SCOPED_TRACE(header);
    std::string token = jwt.SignRaw(header, payload);
    ExpectRejected(jwt.Verify(token, kNow));
    EXPECT_FALSE(jwt.VerifyRaw(token).has_value());
  }
}

TEST(Jwt, HeaderVariantsThatAreAccepted) {
  JwtCodec jwt(kSecret);
  auto payload = *core::Base64UrlDecode(SplitDots(jwt.Sign(Claims()))[1]);
  for (std::string_view header : {
           R"({"alg":"HS256"})",
           R"({"typ":"JWT","alg":"HS256"})",
           R"({ "alg" : "HS256", "kid" : "k1" })",
       }) {
    SCOPED_TRACE(header);
    EXPECT_TRUE(jwt.Verify(jwt.SignRaw(header, payload), kNow).has_value());
  }
}

TEST(Jwt, TamperedPayloadRejected) {
  JwtCodec jwt(kSecret);
  auto parts = SplitDots(jwt.Sign(Claims()));
  AccessClaims admin = Claims();
  admin.role = "admin";
  auto admin_parts = SplitDots(jwt.Sign(admin));
  ExpectRejected(jwt.Verify(parts[0] + "." + admin_parts[1] + "." + parts[2], kNow));
  // Flip one character of the payload.
  std::string payload = parts[1];
  payload[5] = payload[5] == 'A' ? 'B' : 'A';
  ExpectRejected(jwt.Verify(parts[0] + "." + payload + "." + parts[2], kNow));
}

TEST(Jwt, TamperedSignatureRejected) {
  JwtCodec jwt(kSecret);
  std::string token = jwt.Sign(Claims());
  for (size_t i : {token.size() - 43, token.size() - 20, token.size() - 2}) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    ExpectRejected(jwt.Verify(bad, kNow));
  }
  ExpectRejected(jwt.Verify(token.substr(0, token.size() - 1), kNow));  // truncated
  ExpectRejected(jwt.Verify(token + "A", kNow));                         // extended
  ExpectRejected(jwt.Verify(token.substr(0, token.rfind('.') + 1), kNow));  // stripped
}

TEST(Jwt, WrongSecretRejected) {
  JwtCodec a(kSecret);
  JwtCodec b(kSecret + "x");
  ExpectRejected(b.Verify(a.Sign(Claims()), kNow));
  EXPECT_FALSE(b.VerifyRaw(a.Sign(Claims())).has_value());
}

TEST(Jwt, GarbageRejectedWithoutCrash) {
  JwtCodec jwt(kSecret);
  std::string good = jwt.Sign(Claims());
  auto parts = SplitDots(good);
  std::vector<std::string> garbage = {
      "",
      ".",
      "..",
      "...",
      "abc",
      parts[0] + "." + parts[1],                                   // 2 segments
      good + ".",                                                  // 4 segments
      good + "." + parts[2],                                       // 4 segments
      "!!!.@@@.###",                                               // not base64url
      parts[0] + ".@@@." + parts[2],
      "eyJhbGciOiJIUzI1NiJ9=." + parts[1] + "." + parts[2],       // padding
      std::string(1 << 20, 'a'),                                   // huge
      std::string(1 << 20, '.'),
      parts[0] + "." + std::string(1 << 20, 'A') + "." + parts[2],
      std::string("\0\0\0", 3),
      std::string(good).insert(10, 1, '\0'),
  };
  for (const auto& g : garbage) {
    SCOPED_TRACE(g.substr(0, 80));
    ExpectRejected(jwt.Verify(g, kNow));
    EXPECT_FALSE(jwt.VerifyRaw(g).has_value());
  }
}

TEST(Jwt, NonJsonOrNonObjectPartsRejectedEvenWhenSigned) {
  JwtCodec jwt(kSecret);
  std::string header = R"({"alg":"HS256","typ":"JWT"})";
  ExpectRejected(jwt.Verify(jwt.SignRaw("not json", "{}"), kNow));
  for (std::string_view payload :
       {"[1,2,3]", "\"sub\"", "42", "null", "", "not json", "{\"sub\":", "{} {}",
        "{\"a\":1,}", "{\"a\":\"\xff\"}"}) {
    SCOPED_TRACE(payload);
    std::string token = jwt.SignRaw(header, payload);
    ExpectRejected(jwt.Verify(token, kNow));
    EXPECT_FALSE(jwt.VerifyRaw(token).has_value());
  }
}

TEST(Jwt, MissingOrMistypedClaimsRejected) {
  JwtCodec jwt(kSecret);
  std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::string iat = std::to_string(kNow);
  const std::string exp = std::to_string(kNow + 900);
  auto payload = [&](std::string sub, std::string role, std::string jti, std::string i,
                     std::string e) {
    std::string p = "{";
    auto add = [&](std::string_view k, const std::string& v) {
      if (v.empty()) return;
      if (p.size() > 1) p += ',';
      p += '"';
      p += k;
      p += "\":" + v;
    };
    add("sub", sub);
    add("role", role);
    add("jti", jti);
    add("iat", i);
    add("exp", e);
    return p + "}";
  };
  // Sanity: the builder makes an acceptable token when everything is present.
  ASSERT_TRUE(jwt.Verify(jwt.SignRaw(header, payload("\"u\"", "\"user\"", "\"j\"", iat, exp)),
                         kNow)
                  .has_value());
  std::vector<std::string> bad = {
      payload("", "\"user\"", "\"j\"", iat, exp),
      payload("\"u\"", "", "\"j\"", iat, exp),
      payload("\"u\"", "\"user\"", "", iat, exp),
      payload("\"u\"", "\"user\"", "\"j\"", "", exp),
      payload("\"u\"", "\"user\"", "\"j\"", iat, ""),
      payload("\"\"", "\"user\"", "\"j\"", iat, exp),
      payload("\"u\"", "\"\"", "\"j\"", iat, exp),
      payload("\"u\"", "\"user\"", "\"\"", iat, exp),
      payload("42", "\"user\"", "\"j\"", iat, exp),
      payload("\"u\"", "null", "\"j\"", iat, exp),
      payload("\"u\"", "\"user\"", "[\"j\"]", iat, exp),
      payload("\"u\"", "\"user\"", "\"j\"", "\"" + iat + "\"", exp),
      payload("\"u\"", "\"user\"", "\"j\"", iat, "\"" + exp + "\""),
      payload("\"u\"", "\"user\"", "\"j\"", iat, exp + ".5"),
      payload("\"u\"", "\"user\"", "\"j\"", iat, "1.8e9"),
      payload("\"u\"", "\"user\"", "\"j\"", iat, "18446744073709551615"),
      payload("\"u\"", "\"user\"", "\"j\"", iat, "true"),
      "{}",
  };
  for (const auto& p : bad) {
    SCOPED_TRACE(p);
    std::string token = jwt.SignRaw(header, p);
    ExpectRejected(jwt.Verify(token, kNow));
    EXPECT_TRUE(jwt.VerifyRaw(token).has_value());  // well-formed, just not an access token
  }
}

TEST(Jwt, ManyCodecsOnOneThreadKeepTheirKeys) {
  // More codecs than the per-thread context cache holds, used interleaved.
  std::vector<std::unique_ptr<JwtCodec>> codecs;
  for (int i = 0; i < 9; ++i) codecs.push_back(std::make_unique<JwtCodec>(kSecret + char('a' + i)));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < codecs.size(); ++i) {
      std::string token = codecs[i]->Sign(Claims());
      EXPECT_TRUE(codecs[i]->Verify(token, kNow).has_value());
      ExpectRejected(codecs[(i + 1) % codecs.size()]->Verify(token, kNow));
    }
  }
}

TEST(Jwt, ReplacedCodecUsesItsOwnKey) {
  // A new codec may reuse a freed codec's address; it must not reuse its cached key.
  std::string token_a;
  {
    JwtCodec a("secret-a-secret-a-secret-a-secret-a");
    token_a = a.Sign(Claims());
    ASSERT_TRUE(a.Verify(token_a, kNow).has_value());
  }
  for (int i = 0; i < 4; ++i) {
    JwtCodec b("secret-b-secret-b-secret-b-secret-b");
    ExpectRejected(b.Verify(token_a, kNow));
  }
}

TEST(Jwt, ConcurrentVerify) {
  JwtCodec a(kSecret);
  JwtCodec b(kSecret + "b");
  std::string token_a = a.Sign(Claims());
  std::string token_b = b.Sign(Claims());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!a.Verify(token_a, kNow) || !b.Verify(token_b, kNow) || a.Verify(token_b, kNow) ||
            b.Verify(token_a, kNow)) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Jwt, ConstructorRejectsMisconfiguration) {
  EXPECT_THROW(JwtCodec(""), std::invalid_argument);
  EXPECT_THROW(JwtCodec(kSecret, -1), std::invalid_argument);
}

}  // namespace
}  // namespace shopd::auth

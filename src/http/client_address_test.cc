#include "http/client_address.h"

#include <gtest/gtest.h>

namespace shopd::http {
namespace {

TrustedProxies Proxies(std::vector<std::string> cidrs) {
  auto p = TrustedProxies::Parse(cidrs);
  EXPECT_TRUE(p.has_value());
  return p ? std::move(*p) : TrustedProxies{};
}

TEST(TrustedProxies, MatchesAddressesInsideTheirPrefixOnly) {
  auto p = Proxies({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", " 172.16.0.0/12 "});
  EXPECT_TRUE(p.Contains("10.200.3.4"));
  EXPECT_FALSE(p.Contains("11.0.0.1"));
  EXPECT_TRUE(p.Contains("192.168.1.7"));
  EXPECT_FALSE(p.Contains("192.168.1.8"));
  EXPECT_TRUE(p.Contains("172.31.255.255"));
  EXPECT_FALSE(p.Contains("172.32.0.0"));
  EXPECT_TRUE(p.Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(p.Contains("2001:db9::1"));
  EXPECT_TRUE(p.Contains("::ffff:10.1.2.3"));  // IPv4-mapped is the IPv4 address
  EXPECT_FALSE(p.Contains("not-an-address"));
  EXPECT_FALSE(p.Contains(""));
}

TEST(TrustedProxies, RejectsWhatIsNotACidr) {
  for (std::string bad : {"10.0.0.0/33", "10.0.0/8", "::1/129", "10.0.0.0/x", "example.com", "10.0.0.0/"}) {
    auto p = TrustedProxies::Parse({bad});
    ASSERT_FALSE(p.has_value()) << bad;
    EXPECT_NE(p.error().message.find("trusted-proxies"), std::string::npos);
  }
  EXPECT_TRUE(TrustedProxies::Parse({}).has_value());
  EXPECT_TRUE(TrustedProxies::Parse({}).value().empty());
}

TEST(ResolveClientAddress, AnUntrustedPeerIsTheClientWhateverItSends) {
  auto p = Proxies({"10.0.0.0/8"});
  EXPECT_EQ(ResolveClientAddress("203.0.113.9", "1.2.3.4", ForwardedHeader::kXForwardedFor, p), "203.0.113.9");
  EXPECT_EQ(ResolveClientAddress("203.0.113.9", "1.2.3.4", ForwardedHeader::kXForwardedFor, TrustedProxies{}),
            "203.0.113.9");
}

TEST(ResolveClientAddress, TakesTheRightMostHopThatIsNotAProxy) {
  auto p = Proxies({"10.0.0.0/8"});
  const auto xff = ForwardedHeader::kXForwardedFor;
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "198.51.100.7", xff, p), "198.51.100.7");
  // The client prepended a forged hop; the proxies appended what they saw.
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", xff, p), "198.51.100.7");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "198.51.100.7:5555", xff, p), "198.51.100.7");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "[2001:db8::5]:443", xff, p), "2001:db8::5");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "2001:db8::5", xff, p), "2001:db8::5");
  // No header, or every hop a proxy: the left-most address seen.
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "", xff, p), "10.0.0.1");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "10.0.0.3, 10.0.0.2", xff, p), "10.0.0.3");
  // Garbage stops at the proxy that wrote it rather than minting a key.
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "198.51.100.7, unknown", xff, p), "10.0.0.1");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "198.51.100.7, 10.0.0.2, garbage", xff, p), "10.0.0.1");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", ",,, ,", xff, p), "10.0.0.1");
}

TEST(ResolveClientAddress, ReadsTheForOfEachForwardedElement) {
  auto p = Proxies({"10.0.0.0/8"});
  const auto fwd = ForwardedHeader::kForwarded;
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "for=198.51.100.7;proto=https;by=10.0.0.1", fwd, p), "198.51.100.7");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\"", fwd, p),
            "2001:db8:cafe::17");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "for=198.51.100.7, for=10.0.0.9", fwd, p), "198.51.100.7");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "for=_hidden", fwd, p), "10.0.0.1");
  EXPECT_EQ(ResolveClientAddress("10.0.0.1", "proto=https", fwd, p), "10.0.0.1");
}

TEST(RateLimitKey, KeysIpv6ByItsSlash64AndIpv4AsItIs) {
  EXPECT_EQ(RateLimitKey("198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(RateLimitKey("::ffff:198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(RateLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(RateLimitKey("2001:db8:1:2::1"), RateLimitKey("2001:db8:1:2:ffff::9"));
  EXPECT_NE(RateLimitKey("2001:db8:1:2::1"), RateLimitKey("2001:db8:1:3::1"));
  EXPECT_EQ(RateLimitKey("::1"), "::/64");
  EXPECT_EQ(RateLimitKey(""), "");
}

}  // namespace
}  // namespace shopd::http

#include "core/base64url.h"

#include <gtest/gtest.h>

namespace shopd::core {
namespace {

TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64Url, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 17) {
    auto s = all.substr(0, n);
    auto back = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
}

TEST(Base64Url, RejectsBadInput) {
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").has_value());    // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v").has_value());     // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());        // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());       // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("Zm9v\n").has_value());
}

}  // namespace
}  // namespace shopd::core

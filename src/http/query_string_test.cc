#include "http/query_string.h"

#include <gtest/gtest.h>

namespace shopd::http {
namespace {

TEST(QueryString, AcceptsRfc3986Queries) {
  for (std::string_view q : {"", "limit=1", "limit=1&cursor=abc-_.~", "a=%41%42%7e", "a=b=c&&x", "k",
                             "path=/x/y?z:@!$'()*+,;"})
    EXPECT_TRUE(IsWellFormedQuery(q)) << q;
}

TEST(QueryString, RejectsBadPercentEncodingAndRawCharacters) {
  for (std::string_view q : {"cursor=%%%garbage", "a=%", "a=%4", "a=%4g", "a=%G1", "limit=1&cursor=%zz",
                             "a=b c", "a=\"x\"", "a={}", "a=|", "a=<", "a=#frag", "a=\x80", "a=\\"})
    EXPECT_FALSE(IsWellFormedQuery(q)) << q;
}

TEST(QueryString, FindsDecodedValues) {
  std::string out = "stale";
  EXPECT_TRUE(FindQueryParam("limit=5&cursor=a%2Fb%3d", "cursor", out));
  EXPECT_EQ(out, "a/b=");
  EXPECT_TRUE(FindQueryParam("limit=5&cursor=x", "limit", out));
  EXPECT_EQ(out, "5");
  EXPECT_TRUE(FindQueryParam("flag&x=1", "flag", out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(FindQueryParam("%6cimit=7", "limit", out));  // keys are compared decoded
  EXPECT_EQ(out, "7");
  EXPECT_TRUE(FindQueryParam("a=1&a=2", "a", out));  // the first one wins
  EXPECT_EQ(out, "1");
  EXPECT_TRUE(FindQueryParam("a=x+y", "a", out));
  EXPECT_EQ(out, "x+y");
}

TEST(QueryString, AbsentOrMalformedIsNotFound) {
  std::string out;
  EXPECT_FALSE(FindQueryParam("", "a", out));
  EXPECT_FALSE(FindQueryParam("ab=1&b", "a", out));
  EXPECT_FALSE(FindQueryParam("limit", "lim", out));
  EXPECT_FALSE(FindQueryParam("a=%zz", "a", out));
}

TEST(QueryString, DoesNotReadPastTheView) {
  // The view ends inside a longer buffer (as a request target does inside the
  // connection buffer): a trailing '%' must not pick up the bytes after it.
  const std::string buffer = "a=%4142";
  EXPECT_FALSE(IsWellFormedQuery(std::string_view(buffer).substr(0, 4)));
  std::string out;
  EXPECT_TRUE(FindQueryParam(std::string_view(buffer).substr(0, 5), "a", out));
  EXPECT_EQ(out, "A");
}

}  // namespace
}  // namespace shopd::http

#include "redis/redis_url.h"

#include <gtest/gtest.h>

namespace shopd::redis {
namespace {

RedisEndpoint Parse(std::string_view url) {
  auto r = ParseRedisUrl(url);
  EXPECT_TRUE(r) << url << ": " << (r ? "" : r.error().message);
  return r ? *r : RedisEndpoint{};
}

TEST(RedisUrl, HostPortAndDefaults) {
  RedisEndpoint e = Parse("redis://10.0.0.5:6380");
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 0);
  EXPECT_EQ(e.password, "");
  EXPECT_EQ(e.username, "");

  e = Parse("redis://cache.internal");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(Parse("redis://h:1/").db, 0);
}

TEST(RedisUrl, PasswordUserAndDatabase) {
  RedisEndpoint e = Parse("redis://:s3cret@127.0.0.1:6379/2");
  EXPECT_EQ(e.password, "s3cret");
  EXPECT_EQ(e.username, "");
  EXPECT_EQ(e.db, 2);

  e = Parse("redis://app:p%40ss%3Aword@[::1]:7000/15");
  EXPECT_EQ(e.username, "app");
  EXPECT_EQ(e.password, "p@ss:word");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 15);
}

TEST(RedisUrl, DescribeNeverShowsThePassword) {
  RedisEndpoint e = Parse("redis://:s3cret@127.0.0.1:6379/2");
  EXPECT_EQ(e.Describe(), "127.0.0.1:6379/2");
  EXPECT_EQ(Parse("redis://[::1]:7000").Describe(), "[::1]:7000/0");
}

TEST(RedisUrl, BadUrlsSayWhatIsWrong) {
  struct Case {
    const char* url;
    const char* says;
  };
  for (const Case& c : {Case{"", "not a URL"},
                        Case{"127.0.0.1:6379", "not a URL"},
                        Case{"http://127.0.0.1:6379", "scheme"},
                        Case{"rediss://127.0.0.1:6379", "TLS"},
                        Case{"redis://", "no host"},
                        Case{"redis://:pw@", "no host"},
                        Case{"redis://h:0", "port"},
                        Case{"redis://h:70000", "port"},
                        Case{"redis://h:abc", "port"},
                        Case{"redis://h:6379/x", "database"},
                        Case{"redis://h:6379/-1", "database"},
                        Case{"redis://h:6379/1/2", "database"},
                        Case{"redis://h:6379/99999999999", "database"},
                        Case{"redis://h:6379/0?timeout=1", "query"},
                        Case{"redis://user@h:6379", "password"}}) {
    auto r = ParseRedisUrl(c.url);
    ASSERT_FALSE(r) << c.url;
    EXPECT_EQ(r.error().code, core::Errc::kInvalidArgument) << c.url;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.url << ": " << r.error().message;
  }
  auto r = ParseRedisUrl("redis://:hunter2@h:6379/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace shopd::redis

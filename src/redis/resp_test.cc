#include "redis/resp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shopd::redis {
namespace {

std::vector<RedisReply> ReadAll(ReplyReader& reader) {
  std::vector<RedisReply> out;
  for (;;) {
    auto next = reader.Next();
    EXPECT_TRUE(next) << next.error().internal;
    if (!next || !*next) return out;
    out.push_back(std::move(**next));
  }
}

TEST(Resp, EncodesBinarySafeCommands) {
  std::string wire;
  static constexpr char kSet[] = "*3\r\n$3\r\nSET\r\n$3\r\nk\0y\r\n$4\r\na\r\nb\r\n";
  AppendCommand(wire, {"SET", std::string("k\0y", 3), "a\r\nb"});
  EXPECT_EQ(wire, std::string(kSet, sizeof(kSet) - 1));
  AppendCommand(wire, {"GET", ""});
  EXPECT_EQ(wire.substr(sizeof(kSet) - 1), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(Resp, DecodesEveryReplyType) {
  static constexpr char kStream[] =
      "+OK\r\n-ERR wrong\r\n:42\r\n$-1\r\n$5\r\nhe\0lo\r\n*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n";
  ReplyReader reader;
  reader.Feed(kStream, sizeof(kStream) - 1);
  std::vector<RedisReply> r = ReadAll(reader);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].type, RedisReply::Type::kStatus);
  EXPECT_EQ(r[0].str, "OK");
  EXPECT_TRUE(r[1].IsError());
  EXPECT_EQ(r[1].str, "ERR wrong");
  EXPECT_EQ(r[2].type, RedisReply::Type::kInteger);
  EXPECT_EQ(r[2].integer, 42);
  EXPECT_TRUE(r[3].IsNil());
  EXPECT_EQ(r[4].type, RedisReply::Type::kString);
  EXPECT_EQ(r[4].str, std::string("he\0lo", 5));
  ASSERT_EQ(r[5].type, RedisReply::Type::kArray);
  ASSERT_EQ(r[5].elements.size(), 3u);
  EXPECT_EQ(r[5].elements[0].integer, 1);
  ASSERT_EQ(r[5].elements[1].elements.size(), 1u);
  EXPECT_EQ(r[5].elements[1].elements[0].str, "x");
  EXPECT_TRUE(r[5].elements[2].IsNil());
}

TEST(Resp, RepliesSplitAcrossReadsComeOutWhole) {
  const std::string stream = "$11\r\nhello world\r\n*2\r\n+a\r\n:7\r\n";
  ReplyReader reader;
  std::vector<RedisReply> got;
  for (char c : stream) {
    reader.Feed(&c, 1);
    for (RedisReply& r : ReadAll(reader)) got.push_back(std::move(r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].str, "hello world");
  EXPECT_EQ(got[1].elements[1].integer, 7);
}

TEST(Resp, GarbageIsAStickyError) {
  ReplyReader reader;
  reader.Feed("?what\r\n", 7);
  auto first = reader.Next();
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().internal.find("unreadable"), std::string::npos) << first.error().internal;
  reader.Feed("+OK\r\n", 5);
  EXPECT_FALSE(reader.Next());
}

TEST(Resp, DescribeIsShortAndReadable) {
  RedisReply nil;
  EXPECT_EQ(nil.Describe(), "(nil)");
  RedisReply err{RedisReply::Type::kError, "NOSCRIPT No matching script", 0, {}};
  EXPECT_EQ(err.Describe(), "(error) NOSCRIPT No matching script");
  RedisReply big{RedisReply::Type::kString, std::string(10'000, 'x'), 0, {}};
  EXPECT_LT(big.Describe().size(), 300u);
}

}  // namespace
}  // namespace shopd::redis

#include "obs/json_escape.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <cmath>
#include <random>
#include <string>

namespace shopd::obs {
namespace {

std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

// Parses `json` as a JSON string and returns its value; fails the test when
// the text is not valid JSON.
std::string Unquote(const std::string& json) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << json;
  if (ec || !v.is_string()) return "<invalid>";
  return std::string(v.as_string());
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Quote(""), R"("")");
  EXPECT_EQ(Quote("plain text /path?q=1"), R"("plain text /path?q=1")");
  EXPECT_EQ(Quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(Quote(std::string_view("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
}

TEST(JsonEscape, KeepsValidUtf8) {
  const std::string s = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbf";  // é € 𝄞 U+FFFF
  EXPECT_EQ(Quote(s), "\"" + s + "\"");
  EXPECT_EQ(Unquote(Quote(s)), s);
}

TEST(JsonEscape, ReplacesMalformedUtf8) {
  EXPECT_EQ(Quote("\xff"), R"("\ufffd")");
  EXPECT_EQ(Quote("a\xc3"), R"("a\ufffd")");                    // truncated
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong '/'
  EXPECT_EQ(Quote("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")");  // overlong
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(Quote("\xe2\x82x"), R"("\ufffd\ufffdx")");
}

TEST(JsonEscape, ValidUtf8RepairsLikeTheEscaper) {
  const std::string ok = "plain \xc3\xa9 \xf0\x9d\x84\x9e";
  EXPECT_EQ(ValidUtf8(ok), ok);
  EXPECT_EQ(ValidUtf8("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(ValidUtf8("x\xe2\x82"), "x\xef\xbf\xbd\xef\xbf\xbd");  // truncated
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    EXPECT_EQ(ValidUtf8(s), Unquote(Quote(s)));
  }
}

TEST(JsonEscape, AnyBytesGiveValidJson) {
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, static_cast<char>(b));
    const std::string back = Unquote(Quote(s));
    if (b < 0x80) {
      EXPECT_EQ(back, s) << b;
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    Unquote(Quote(s));
  }
}

TEST(JsonEscape, Numbers) {
  std::string out;
  AppendJsonInt(out, -42);
  out += ' ';
  AppendJsonUint(out, 18446744073709551615u);
  out += ' ';
  AppendJsonDouble(out, 0.1);
  out += ' ';
  AppendJsonDouble(out, NAN);
  out += ' ';
  AppendJsonDouble(out, -INFINITY);
  out += ' ';
  AppendJsonFixed(out, 1.23456, 3);
  out += ' ';
  AppendJsonFixed(out, 2, 3);
  EXPECT_EQ(out, "-42 18446744073709551615 0.1 null null 1.235 2.000");
}

TEST(JsonEscape, Timestamps) {
  using namespace std::chrono;
  const system_clock::time_point tp{seconds(1'795'619'045) + milliseconds(123)};
  std::string out;
  AppendTimestamp(out, tp);
  out += ' ';
  AppendTimestamp(out, tp + milliseconds(877));  // next second: the cache must move on
  out += ' ';
  AppendTimestamp(out, system_clock::time_point{} - milliseconds(1));
  EXPECT_EQ(out, "2026-11-25T15:04:05.123Z 2026-11-25T15:04:06.000Z 1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace shopd::obs

#include "core/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace shopd::core {
namespace {

TEST(Random, FastIdIsHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = FastId();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Random, UuidHasVersion4Shape) {
  std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(std::regex_match(NewUuid(), shape));
  EXPECT_NE(NewUuid(), NewUuid());
}

TEST(Random, UuidV7CarriesTheTimeAndSortsByIt) {
  std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  // 1795564800000 ms = 0x01a210008800; RFC 9562 puts the milliseconds first,
  // big-endian.
  const std::string id = NewUuidV7(1795564800000);
  EXPECT_TRUE(std::regex_match(id, shape)) << id;
  EXPECT_EQ(id.substr(0, 13), "01a21000-8800");
  EXPECT_NE(NewUuidV7(1795564800000), NewUuidV7(1795564800000));
  EXPECT_LT(NewUuidV7(1795564800000), NewUuidV7(1795564800001));
  EXPECT_LT(NewUuidV7(1795564800999), NewUuidV7(1795564801000));
}

TEST(Random, SecureTokenLength) {
  EXPECT_EQ(SecureToken(32).size(), 43u);
  EXPECT_NE(SecureToken(32), SecureToken(32));
}

}  // namespace
}  // namespace shopd::core

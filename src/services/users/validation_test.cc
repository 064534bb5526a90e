#include "services/users/validation.h"

#include <gtest/gtest.h>

namespace shopd::services {
namespace {

TEST(Validation, NormalizesEmail) {
  EXPECT_EQ(NormalizeEmail("  Ann@Example.COM \t"), "ann@example.com");
}

TEST(Validation, Email) {
  EXPECT_FALSE(CheckEmail("ann@example.com"));
  EXPECT_TRUE(CheckEmail(""));
  EXPECT_TRUE(CheckEmail("ann"));
  EXPECT_TRUE(CheckEmail("@example.com"));
  EXPECT_TRUE(CheckEmail("ann@"));
  EXPECT_TRUE(CheckEmail("a@b@example.com"));
  EXPECT_TRUE(CheckEmail("ann@localhost"));
  EXPECT_TRUE(CheckEmail("ann@example..com"));
  EXPECT_TRUE(CheckEmail("an n@example.com"));
  EXPECT_TRUE(CheckEmail(std::string(250, 'a') + "@example.com"));
}

TEST(Validation, PasswordLengthCountsCharacters) {
  EXPECT_TRUE(CheckPassword("1234567"));
  EXPECT_FALSE(CheckPassword("12345678"));
  EXPECT_FALSE(CheckPassword(std::string(128, 'x')));
  EXPECT_TRUE(CheckPassword(std::string(129, 'x')));
  // 8 two-byte characters are 8 characters, not 16.
  std::string umlauts;
  for (int i = 0; i < 8; ++i) umlauts += "\xc3\xa4";
  EXPECT_FALSE(CheckPassword(umlauts));
  std::string seven;
  for (int i = 0; i < 7; ++i) seven += "\xc3\xa4";
  EXPECT_TRUE(CheckPassword(seven));
}

TEST(Validation, Name) {
  EXPECT_FALSE(CheckName("Ann"));
  EXPECT_TRUE(CheckName(""));
  EXPECT_FALSE(CheckName(std::string(200, 'n')));
  EXPECT_TRUE(CheckName(std::string(201, 'n')));
  // Characters (code points), not bytes: 200 two-byte and 200 four-byte characters fit.
  std::string e_acute, emoji;
  for (int i = 0; i < 200; ++i) e_acute += "\xc3\xa9", emoji += "\xf0\x9f\x98\x80";
  EXPECT_FALSE(CheckName(e_acute));
  EXPECT_FALSE(CheckName(emoji));
  EXPECT_EQ(CheckName(e_acute + "\xc3\xa9").value_or(""), "must be at most 200 characters");
  EXPECT_EQ(CheckName(emoji + "n").value_or(""), "must be at most 200 characters");
  EXPECT_EQ(CheckName(std::string(1 << 20, 'n')).value_or(""), "must be at most 200 characters");
  EXPECT_TRUE(CheckName("a\nb"));
  EXPECT_EQ(Trim("  Ann  "), "Ann");
}

}  // namespace
}  // namespace shopd::services

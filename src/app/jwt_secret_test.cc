#include "app/jwt_secret.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace shopd::app {
namespace {

class JwtSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shopd-jwtsecret-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/jwt_secret";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
    std::ofstream(path) << content;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  static std::string ReadAll(const std::string& path) {
    std::ostringstream out;
    out << std::ifstream(path).rdbuf();
    return out.str();
  }
  std::string dir_, path_;
};

TEST_F(JwtSecretTest, GeneratesAKeyOnceWithMode0600) {
  const mode_t old_umask = ::umask(0);
  auto first = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ::umask(old_umask);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->size(), 43u);  // 32 random bytes, base64url
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(ReadAll(path_), *first + "\n");
  auto second = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*first, *second);
  EXPECT_TRUE(LoadOrCreateJwtSecret(dir_, ""));  // empty = unset
}

TEST_F(JwtSecretTest, ConcurrentFirstStartsAgreeOnOneKey) {
  std::vector<std::string> keys(8);
  std::vector<std::thread> threads;
  for (auto& k : keys)
    threads.emplace_back([&] {
      auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
      if (r) k = *r;
    });
  for (auto& t : threads) t.join();
  for (const auto& k : keys) EXPECT_EQ(k, keys[0]);
  EXPECT_EQ(keys[0].size(), 43u);
}

TEST_F(JwtSecretTest, ASymbolicLinkAtTheKeyPathIsRefusedNeverFollowed) {
  const std::string target = dir_ + "/elsewhere";
  ASSERT_EQ(::symlink(target.c_str(), path_.c_str()), 0);  // dangling: creating through it would write `target`
  auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(target));

  WriteFile(target, "a-key-that-is-long-enough-0123456789abcdef", 0600);  // pointing at a valid key
  r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos) << r.error().message;
}

TEST_F(JwtSecretTest, AKeyFileOpenToGroupOrOthersIsRefusedNamingChmod600) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0606}) {
    WriteFile(path_, "a-key-that-is-long-enough-0123456789abcdef\n", mode);
    auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_NE(r.error().message.find("chmod 600 " + path_), std::string::npos) << r.error().message;
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "a-key-that-is-long-enough-0123456789abcdef");
  ASSERT_EQ(::chmod(path_.c_str(), 0400), 0);  // read-only for the owner is fine
  EXPECT_TRUE(LoadOrCreateJwtSecret(dir_, std::nullopt));
}

TEST_F(JwtSecretTest, AKeyFileOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  WriteFile(path_, "a-key-that-is-long-enough-0123456789abcdef\n", 0600);
  ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
  auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("owned by uid 65534"), std::string::npos) << r.error().message;
}

TEST_F(JwtSecretTest, NotARegularFileOrTooShortIsRefused) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);  // must not block start-up either
  auto r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos) << r.error().message;
  ::unlink(path_.c_str());
  WriteFile(path_, "short\n", 0600);
  r = LoadOrCreateJwtSecret(dir_, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("rm " + path_), std::string::npos) << r.error().message;
}

TEST_F(JwtSecretTest, EnvironmentValueWinsOverTheFile) {
  auto r = LoadOrCreateJwtSecret(dir_, "0123456789abcdef0123456789abcdef-long-enough");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "0123456789abcdef0123456789abcdef-long-enough");
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST(DecodeJwtSecret, RawValueIsTheBytesAsGiven) {
  EXPECT_EQ(*DecodeJwtSecret("0123456789abcdef0123456789abcdef"), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(*DecodeJwtSecret(" 0123456789abcdef0123456789abcdef\n"), " 0123456789abcdef0123456789abcdef\n");
  auto short_raw = DecodeJwtSecret("0123456789abcdef0123456789abcde");  // 31 bytes
  ASSERT_FALSE(short_raw);
  EXPECT_NE(short_raw.error().message.find("31 bytes"), std::string::npos) << short_raw.error().message;
  EXPECT_NE(short_raw.error().message.find("base64:$(openssl rand -base64 32)"), std::string::npos);
  // Bytes, not characters: 16 two-byte characters are 32 bytes.
  EXPECT_TRUE(DecodeJwtSecret("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
}

TEST(DecodeJwtSecret, Base64IsDecodedInEitherAlphabetWithOrWithoutPadding) {
  const std::string bytes(32, '\xfb');  // "+/" in the standard alphabet, "-_" in the URL-safe one
  const std::string std_b64 = "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=";
  auto r = DecodeJwtSecret("base64:" + std_b64);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, bytes);
  EXPECT_EQ(*DecodeJwtSecret("base64:-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"), bytes);
  EXPECT_FALSE(DecodeJwtSecret("base64:" + std_b64 + "="));
  EXPECT_FALSE(DecodeJwtSecret("base64:+/v7 +/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s="));
  EXPECT_FALSE(DecodeJwtSecret("base64:*not base64 at all, but long enough to count*"));
  // 44 characters of text, 31 bytes of key: the decoded length is what counts.
  auto short_key = DecodeJwtSecret("base64:" + std::string(40, 'A') + "AA==");
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("31 bytes"), std::string::npos) << short_key.error().message;
}

TEST(DecodeJwtSecret, HexIsDecodedInEitherCase) {
  auto r = DecodeJwtSecret("hex:" + std::string(62, 'a') + "FF");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, std::string(31, '\xaa') + "\xff");
  EXPECT_FALSE(DecodeJwtSecret("hex:" + std::string(63, 'a')));  // odd length
  EXPECT_FALSE(DecodeJwtSecret("hex:" + std::string(62, 'a') + "zz"));
  auto short_key = DecodeJwtSecret("hex:" + std::string(62, '0'));
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("31 bytes"), std::string::npos) << short_key.error().message;
}

}  // namespace
}  // namespace shopd::app

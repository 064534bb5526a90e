#include "app/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace shopd::app {
namespace {

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shopd-datadir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::unsetenv("SHOPD_JWT_SECRET");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DataDirTest, GeneratesSecretOnceWithMode0600) {
  auto first = LoadOrCreateJwtSecret(dir_);
  ASSERT_TRUE(first);
  EXPECT_GE(first->size(), 32u);
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/jwt_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto second = LoadOrCreateJwtSecret(dir_);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
}

TEST_F(DataDirTest, EnvironmentSecretWinsAndMustBeLongEnough) {
  ::setenv("SHOPD_JWT_SECRET", "short", 1);
  EXPECT_FALSE(LoadOrCreateJwtSecret(dir_));
  ::setenv("SHOPD_JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough", 1);
  auto s = LoadOrCreateJwtSecret(dir_);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, "0123456789abcdef0123456789abcdef-long-enough");
  ::unsetenv("SHOPD_JWT_SECRET");
}

TEST_F(DataDirTest, CreatesNestedDirectory) {
  EXPECT_TRUE(EnsureDataDir(dir_ + "/a/b"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b"));
}

TEST_F(DataDirTest, RejectsAFileAsDirectory) {
  std::string file = dir_ + "/plain";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  EXPECT_FALSE(EnsureDataDir(file));
}

}  // namespace
}  // namespace shopd::app

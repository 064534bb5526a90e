#include "app/database_url.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/testing/temp_dir.h"

namespace shopd::app {
namespace {

TEST(DatabaseUrl, NoneIsSqliteInTheDataDir) {
  auto t = ParseDatabaseUrl("", "/var/lib/shopd");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->postgres());
  EXPECT_EQ(t->sqlite_dir, "/var/lib/shopd");
  EXPECT_EQ(t->sqlite_file, "shopd.db");
}

TEST(DatabaseUrl, SqlitePathNamesTheFile) {
  auto t = ParseDatabaseUrl("sqlite:./data/shop.db", "/ignored");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->sqlite_dir, "./data");
  EXPECT_EQ(t->sqlite_file, "shop.db");
  auto bare = ParseDatabaseUrl("sqlite:shop.db", "/ignored");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->sqlite_dir, ".");
  EXPECT_FALSE(ParseDatabaseUrl("sqlite:", "/x"));
  EXPECT_FALSE(ParseDatabaseUrl("sqlite:./data/", "/x"));
}

TEST(DatabaseUrl, PostgresUrlsGoToLibpqAsGiven) {
  for (const char* url : {"postgres://shop@db:5432/shop", "postgresql://shop:pw@db/shop?sslmode=require"}) {
    auto t = ParseDatabaseUrl(url, "/x");
    ASSERT_TRUE(t) << url;
    EXPECT_TRUE(t->postgres());
    EXPECT_EQ(t->url, url);
  }
}

TEST(DatabaseUrl, OtherSchemesAreRefusedWithoutThePassword) {
  auto t = ParseDatabaseUrl("mysql://root:hunter2@db/shop", "/x");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, core::Errc::kInvalidArgument);
  EXPECT_EQ(t.error().message.find("hunter2"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("postgres://"), std::string::npos) << t.error().message;
}

TEST(DatabaseUrl, RedactsOnlyThePassword) {
  EXPECT_EQ(RedactedUrl("postgres://shop:hunter2@db:5432/shop"), "postgres://shop:***@db:5432/shop");
  EXPECT_EQ(RedactedUrl("postgres://shop@db/shop"), "postgres://shop@db/shop");
  EXPECT_EQ(RedactedUrl("sqlite:./data/shop.db"), "sqlite:./data/shop.db");
}

TEST(DatabaseUrl, AFileKeepsTheUrlOffTheCommandLine) {
  shopd::testing::TempDir dir("shopd-dburl");
  const std::string file = dir.path() + "/url";
  std::ofstream(file) << "postgres://shop:pw@db/shop\r\n";
  ::setenv("SHOPD_DATABASE_URL_FILE", file.c_str(), 1);
  EXPECT_EQ(*DatabaseUrlOrFile(""), "postgres://shop:pw@db/shop");
  EXPECT_EQ(*DatabaseUrlOrFile("sqlite:x.db"), "sqlite:x.db") << "a value given wins";
  ::setenv("SHOPD_DATABASE_URL_FILE", (dir.path() + "/missing").c_str(), 1);
  EXPECT_FALSE(DatabaseUrlOrFile(""));
  ::unsetenv("SHOPD_DATABASE_URL_FILE");
  EXPECT_EQ(*DatabaseUrlOrFile(""), "");
}

}  // namespace
}  // namespace shopd::app

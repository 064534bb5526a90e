#include "app/migrate_cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "core/testing/temp_dir.h"
#include "storage/postgres/testing/postgres_test_server.h"

namespace shopd::app {
namespace {

using storage::postgres::testing::PostgresTestServer;

PostgresTestServer& Server() {
  auto* server = PostgresTestServer::Shared();
  if (server == nullptr) throw std::runtime_error("PostgreSQL 15 is not available: run scripts/install_deps.sh test");
  return *server;
}

// A postgres:// URL for a new empty database of the test server.
std::string NewDatabaseUrl() {
  const std::string name = Server().CreateDatabase();
  std::smatch user;
  const std::string conninfo = Server().ConnInfo(name);
  std::regex_search(conninfo, user, std::regex("user=(\\S+)"));
  return "postgres://" + user[1].str() + "@127.0.0.1:" + std::to_string(Server().port()) + "/" + name;
}

struct Outcome {
  int rc;
  std::string out, err;
};
Outcome Migrate(const std::string& url) {
  std::ostringstream out, err;
  const int rc = MigrateCommand(url, out, err);
  return {rc, out.str(), err.str()};
}

TEST(MigrateCommand, AppliesEveryMigrationOnceAndSaysSo) {
  const std::string url = NewDatabaseUrl();
  Outcome first = Migrate(url);
  ASSERT_EQ(first.rc, 0) << first.err;
  EXPECT_NE(first.out.find("applied 1 ("), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("job queue"), std::string::npos) << first.out;
  std::smatch version;
  ASSERT_TRUE(std::regex_search(first.out, version, std::regex("schema at version (\\d+)\\n$"))) << first.out;

  Outcome again = Migrate(url);
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(again.out, "schema at version " + version[1].str() + ": nothing to apply\n");
}

TEST(MigrateCommand, TakesTheUrlFromTheEnvironmentOrAFile) {
  const std::string url = NewDatabaseUrl();
  ::setenv("SHOPD_DATABASE_URL", url.c_str(), 1);
  Outcome from_env = Migrate("");
  ::unsetenv("SHOPD_DATABASE_URL");
  ASSERT_EQ(from_env.rc, 0) << from_env.err;

  shopd::testing::TempDir dir("shopd-migrate");
  const std::string file = dir.path() + "/url";
  std::ofstream(file) << url << "\n";
  ::setenv("SHOPD_DATABASE_URL_FILE", file.c_str(), 1);
  Outcome from_file = Migrate("");
  ::unsetenv("SHOPD_DATABASE_URL_FILE");
  ASSERT_EQ(from_file.rc, 0) << from_file.err;
  EXPECT_NE(from_file.out.find("nothing to apply"), std::string::npos) << from_file.out;
}

TEST(MigrateCommand, BadUrlsAreClearErrorsNotCrashes) {
  ::unsetenv("SHOPD_DATABASE_URL");
  ::unsetenv("SHOPD_DATABASE_URL_FILE");
  Outcome none = Migrate("");
  EXPECT_EQ(none.rc, 2);
  EXPECT_NE(none.err.find("no database URL"), std::string::npos) << none.err;

  Outcome sqlite = Migrate("sqlite:./data/shop.db");
  EXPECT_EQ(sqlite.rc, 2);
  EXPECT_NE(sqlite.err.find("shopd serve"), std::string::npos) << sqlite.err;

  Outcome other = Migrate("mysql://root:hunter2@db/shop");
  EXPECT_EQ(other.rc, 2);
  EXPECT_EQ(other.err.find("hunter2"), std::string::npos) << "the password is never printed: " << other.err;

  // Nothing listens on port 1: refused at once, reported with the URL, never the password.
  Outcome down = Migrate("postgres://shop:hunter2@127.0.0.1:1/shop");
  EXPECT_EQ(down.rc, 1);
  EXPECT_NE(down.err.find("postgres://shop:***@127.0.0.1:1/shop"), std::string::npos) << down.err;
  EXPECT_EQ(down.err.find("hunter2"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace shopd::app

#include "http/server_config.h"

#include <gtest/gtest.h>

#include <map>

namespace shopd::http {
namespace {

config::ConfigSource Source(std::map<std::string, std::string> env) {
  config::ConfigSource src([env](const std::string& k) -> std::optional<std::string> {
    if (auto it = env.find(k); it != env.end()) return it->second;
    return std::nullopt;
  });
  ServerConfig::Declare(src);
  return src;
}

TEST(ServerConfig, Defaults) {
  auto c = ServerConfig::Load(Source({}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->max_body_bytes, 1 << 20);
  EXPECT_EQ(c->max_header_bytes, 16 << 10);
  EXPECT_GE(c->threads, 1);
  EXPECT_TRUE(c->cors_origins.empty());
  EXPECT_FALSE(c->has_admin_listener());
}

TEST(ServerConfig, AdminListener) {
  auto c = ServerConfig::Load(Source({{"SHOPD_ADMIN_LISTEN", "127.0.0.1:9090"}}));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->has_admin_listener());
  EXPECT_EQ(c->admin_host, "127.0.0.1");
  EXPECT_EQ(c->admin_port, 9090);
  EXPECT_FALSE(ServerConfig::Load(Source({{"SHOPD_ADMIN_LISTEN", "nope"}})));
  EXPECT_FALSE(ServerConfig::Load(Source({{"SHOPD_LISTEN", "127.0.0.1:9090"}, {"SHOPD_ADMIN_LISTEN", "127.0.0.1:9090"}})));
}

TEST(ServerConfig, ParsesListenAddress) {
  EXPECT_EQ(ParseListenAddress("0.0.0.0:80")->second, 80);
  EXPECT_EQ(ParseListenAddress("[::1]:8443")->first, "::1");
  EXPECT_FALSE(ParseListenAddress("localhost"));
  EXPECT_FALSE(ParseListenAddress("host:99999"));
  EXPECT_FALSE(ParseListenAddress(":80"));
  EXPECT_FALSE(ParseListenAddress("host:8x"));
}

TEST(ServerConfig, ReportsEveryBadValue) {
  auto c = ServerConfig::Load(Source({{"SHOPD_LISTEN", "nope"}, {"SHOPD_THREADS", "-1"},
                                      {"SHOPD_IDLE_TIMEOUT_MS", "soon"}}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("listen"), std::string::npos);
  EXPECT_NE(c.error().message.find("threads"), std::string::npos);
  EXPECT_NE(c.error().message.find("idle-timeout-ms"), std::string::npos);
}

}  // namespace
}  // namespace shopd::http

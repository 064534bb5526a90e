#include "services/users/user_cache.h"

#include <gtest/gtest.h>

namespace shopd::services {
namespace {

storage::User MakeUser(std::string id) {
  storage::User u;
  u.id = std::move(id);
  u.email = u.id + "@example.com";
  u.password_hash = "$argon2id$secret";
  return u;
}

TEST(UserCache, HitMissAndTtl) {
  core::ManualClock clock;
  UserCache cache(clock, 100, 1000);
  EXPECT_FALSE(cache.Get("a"));
  cache.Put(MakeUser("a"));
  auto hit = cache.Get("a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->email, "a@example.com");
  EXPECT_TRUE(hit->password_hash.empty());  // never cached
  clock.AdvanceMs(1000);
  EXPECT_FALSE(cache.Get("a"));
}

TEST(UserCache, BoundedWithLruEviction) {
  core::ManualClock clock;
  UserCache cache(clock, 80, 60'000);
  for (int i = 0; i < 10'000; ++i) cache.Put(MakeUser("u" + std::to_string(i)));
  EXPECT_LE(cache.size(), 80u);
  EXPECT_TRUE(cache.Get("u9999"));
  EXPECT_FALSE(cache.Get("u0"));
}

TEST(UserCache, Invalidate) {
  core::ManualClock clock;
  UserCache cache(clock, 100, 60'000);
  cache.Put(MakeUser("a"));
  cache.Invalidate("a");
  EXPECT_FALSE(cache.Get("a"));
}

TEST(UserCache, AnOlderTokenVersionNeverReplacesANewerOne) {
  core::ManualClock clock;
  UserCache cache(clock, 100, 60'000);
  storage::User revoked = MakeUser("a");
  revoked.token_version = 2;
  cache.Put(revoked);
  storage::User stale = MakeUser("a");
  stale.token_version = 1;  // read before the revocation, put after it
  cache.Put(stale);
  ASSERT_TRUE(cache.Get("a"));
  EXPECT_EQ(cache.Get("a")->token_version, 2);
  storage::User newer = MakeUser("a");
  newer.token_version = 3;
  cache.Put(newer);
  EXPECT_EQ(cache.Get("a")->token_version, 3);
  EXPECT_EQ(cache.TokenVersion("a"), 3);
  EXPECT_FALSE(cache.TokenVersion("b"));
  clock.AdvanceMs(60'000);
  EXPECT_FALSE(cache.TokenVersion("a"));  // expired like Get
}

}  // namespace
}  // namespace shopd::services

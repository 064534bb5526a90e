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

}  // namespace
}  // namespace shopd::services

// storage: the UserStore contract, one TEST_P suite run against every backend.
// Depends on storage and GoogleTest.
//
// The cases use the UserStore interface only, so "same behaviour on every
// backend" is tested rather than claimed. A backend's test file includes this
// header once (it defines tests) and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, UserStoreContract,
//       ::testing::Values(UserStoreBackend{"Sqlite", [] { return MakeSqliteHarness(); }}),
//       UserStoreBackendName);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/testing/async_test_util.h"
#include "storage/user_store.h"

namespace shopd::storage::contract {

// Owns one fresh, empty store and whatever it needs (files, pools, servers),
// released in the destructor.
class UserStoreHarness {
 public:
  virtual ~UserStoreHarness() = default;
  virtual UserStore& store() = 0;
};

struct UserStoreBackend {
  std::string name;  // test-name suffix: letters and digits only
  std::function<std::unique_ptr<UserStoreHarness>()> make;

  friend void PrintTo(const UserStoreBackend& b, std::ostream* os) { *os << b.name; }
};

inline std::string UserStoreBackendName(const ::testing::TestParamInfo<UserStoreBackend>& info) {
  return info.param.name;
}

// Drives one awaitable to completion on a private io_context.
template <class T>
T Await(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(aw));
}

// Starts start(0..n-1) together on one io_context and returns every result;
// a coroutine that threw leaves nullopt in its slot.
template <class T>
std::vector<std::optional<core::Result<T>>> RunTogether(int n, const std::function<Async<T>(int)>& start) {
  boost::asio::io_context io;
  std::vector<std::optional<core::Result<T>>> results(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    boost::asio::co_spawn(io, start(i), [&results, i](std::exception_ptr e, core::Result<T> r) {
      if (!e) results[static_cast<size_t>(i)].emplace(std::move(r));
    });
  }
  io.run();
  return results;
}

class UserStoreContract : public ::testing::TestWithParam<UserStoreBackend> {
 protected:
  static constexpr int64_t kNow = 1'700'000'000;
  static constexpr int64_t kTtl = 3600;

  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_NE(harness_, nullptr);
  }
  void TearDown() override { harness_.reset(); }

  UserStore& store() { return harness_->store(); }

  static User MakeUser(std::string id, std::string email, std::string role = "user") {
    User u;
    u.id = std::move(id);
    u.email = std::move(email);
    u.name = "Name of " + u.id;
    u.role = std::move(role);
    u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
    u.created_at = kNow;
    return u;
  }

  static RefreshToken MakeToken(std::string hash, std::string user_id, std::string family_id,
                                int64_t issued_at = kNow) {
    RefreshToken t;
    t.token_hash = std::move(hash);
    t.user_id = std::move(user_id);
    t.family_id = std::move(family_id);
    t.issued_at = issued_at;
    t.expires_at = issued_at + kTtl;
    t.family_started_at = issued_at;
    return t;
  }

  core::Result<User> Create(User u) { return Await(store().CreateUser(std::move(u))); }
  core::Result<Rotation> Rotate(std::string old_hash, std::string next_hash, int64_t now = kNow + 1,
                                std::string user_id = "u1", std::string family_id = "f1",
                                int64_t oldest_family_start = 0) {
    return Await(store().RotateRefreshToken(
        std::move(old_hash), MakeToken(std::move(next_hash), std::move(user_id), std::move(family_id), now), now,
        oldest_family_start));
  }
  core::Result<void> Insert(RefreshToken t, int64_t token_version = 0) {
    return Await(store().InsertRefreshToken(std::move(t), token_version));
  }
  bool Live(const std::string& hash) {
    auto t = Await(store().FindRefreshToken(hash));
    return t && !t->revoked && !t->spent;
  }

  // A user "u1" with a first refresh token "t1" in family "f1".
  void SeedLogin() {
    ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
    ASSERT_TRUE(Insert(MakeToken("t1", "u1", "f1")));
  }

  std::unique_ptr<UserStoreHarness> harness_;
};

#define SHOPD_EXPECT_ERRC(result, errc)                        \
  do {                                                         \
    const auto& r_ = (result);                                 \
    ASSERT_FALSE(r_.has_value()) << "expected an error";       \
    EXPECT_EQ(r_.error().code, (errc)) << r_.error().internal; \
  } while (0)

TEST_P(UserStoreContract, CreatedUserIsFoundByEmailAndId) {
  User u = MakeUser("u1", "a@example.com");
  auto created = Create(u);
  ASSERT_TRUE(created) << created.error().internal;
  EXPECT_EQ(created->id, "u1");

  for (auto found : {Await(store().FindUserByEmail("a@example.com")), Await(store().FindUserById("u1"))}) {
    ASSERT_TRUE(found) << found.error().internal;
    EXPECT_EQ(found->id, u.id);
    EXPECT_EQ(found->email, u.email);
    EXPECT_EQ(found->name, u.name);
    EXPECT_EQ(found->role, "user");
    EXPECT_EQ(found->password_hash, u.password_hash);
    EXPECT_EQ(found->created_at, u.created_at);
  }
}

TEST_P(UserStoreContract, DuplicateEmailIsConflict) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  SHOPD_EXPECT_ERRC(Create(MakeUser("u2", "a@example.com")), core::Errc::kConflict);
  // The first account is untouched.
  auto found = Await(store().FindUserByEmail("a@example.com"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "u1");
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("u2")), core::Errc::kNotFound);
}

TEST_P(UserStoreContract, MissingUserIsNotFound) {
  SHOPD_EXPECT_ERRC(Await(store().FindUserByEmail("nobody@example.com")), core::Errc::kNotFound);
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("nobody")), core::Errc::kNotFound);
}

TEST_P(UserStoreContract, CreateUserIfAbsentCreates) {
  auto admin = Await(store().CreateUserIfAbsent(MakeUser("a1", "admin@example.com", "admin")));
  ASSERT_TRUE(admin) << admin.error().internal;
  EXPECT_EQ(admin->id, "a1");
  EXPECT_EQ(admin->role, "admin");
  EXPECT_EQ(admin->token_version, 0);
  auto found = Await(store().FindUserByEmail("admin@example.com"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->role, "admin");
}

TEST_P(UserStoreContract, CreateUserIfAbsentLeavesAnExistingAccountUntouched) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  User again = MakeUser("other-id", "a@example.com", "admin");
  again.password_hash = "new-hash";
  auto existing = Await(store().CreateUserIfAbsent(again));
  ASSERT_TRUE(existing) << existing.error().internal;
  EXPECT_EQ(existing->id, "u1");  // the existing account, not a new one
  EXPECT_EQ(existing->role, "user");  // never promoted
  EXPECT_NE(existing->password_hash, "new-hash");

  auto found = Await(store().FindUserById("u1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->role, "user");
  EXPECT_EQ(found->password_hash, MakeUser("u1", "a@example.com").password_hash);
  SHOPD_EXPECT_ERRC(Await(store().FindUserById("other-id")), core::Errc::kNotFound);
}

TEST_P(UserStoreContract, RotateSpendsOldTokenAndChainsTheFamily) {
  SeedLogin();
  auto rotated = Rotate("t1", "t2");
  ASSERT_TRUE(rotated) << rotated.error().internal;
  const RefreshToken& spent = rotated->spent;
  EXPECT_EQ(spent.token_hash, "t1");
  EXPECT_EQ(spent.user_id, "u1");
  EXPECT_EQ(spent.family_id, "f1");
  EXPECT_EQ(spent.issued_at, kNow);
  EXPECT_EQ(spent.expires_at, kNow + kTtl);
  EXPECT_EQ(spent.family_started_at, kNow);
  // The owner as of the rotation, without its password hash.
  EXPECT_EQ(rotated->user.id, "u1");
  EXPECT_EQ(rotated->user.role, "user");
  EXPECT_EQ(rotated->user.token_version, 0);
  EXPECT_TRUE(rotated->user.password_hash.empty());

  auto next = Rotate("t2", "t3", kNow + 2);
  ASSERT_TRUE(next) << next.error().internal;
  EXPECT_EQ(next->spent.token_hash, "t2");
  EXPECT_EQ(next->spent.family_id, "f1");
  // The family keeps its start, whatever the caller passed for the successor.
  EXPECT_EQ(next->spent.family_started_at, kNow);
}

TEST_P(UserStoreContract, RotateKeepsOldFamilyAndUserWhateverTheCallerPasses) {
  SeedLogin();
  ASSERT_TRUE(Create(MakeUser("u2", "b@example.com")));
  ASSERT_TRUE(Rotate("t1", "t2", kNow + 1, /*user_id=*/"u2", /*family_id=*/"other-family"));
  auto next = Rotate("t2", "t3", kNow + 2);
  ASSERT_TRUE(next) << next.error().internal;
  EXPECT_EQ(next->spent.user_id, "u1");
  EXPECT_EQ(next->spent.family_id, "f1");
  EXPECT_EQ(next->user.id, "u1");
  // And revoking f1 reaches the successor.
  ASSERT_TRUE(Await(store().RevokeRefreshFamily("t1", kNow + 3)));
  SHOPD_EXPECT_ERRC(Rotate("t3", "t4", kNow + 4), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, RotateUnknownTokenIsUnauthenticated) {
  SeedLogin();
  SHOPD_EXPECT_ERRC(Rotate("nope", "t2"), core::Errc::kUnauthenticated);
  // Nothing was stored for the rejected rotation.
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3"), core::Errc::kUnauthenticated);
  EXPECT_TRUE(Rotate("t1", "t2"));
}

TEST_P(UserStoreContract, ReusingASpentTokenRevokesTheWholeFamily) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  auto reuse = Rotate("t1", "t3", kNow + 2);
  SHOPD_EXPECT_ERRC(reuse, core::Errc::kUnauthenticated);
  EXPECT_EQ(reuse.error().message, "refresh token reuse detected");
  // The legitimate successor died with the family, and the replay stored nothing.
  SHOPD_EXPECT_ERRC(Rotate("t2", "t4", kNow + 3), core::Errc::kUnauthenticated);
  SHOPD_EXPECT_ERRC(Rotate("t3", "t5", kNow + 3), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, ReusingASpentTokenAfterItExpiredStillRevokesTheFamily) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  auto reuse = Rotate("t1", "t3", kNow + kTtl + 1);
  SHOPD_EXPECT_ERRC(reuse, core::Errc::kUnauthenticated);
  EXPECT_EQ(reuse.error().message, "refresh token reuse detected");
  SHOPD_EXPECT_ERRC(Rotate("t2", "t4", kNow + 2), core::Errc::kUnauthenticated);
}

TEST_P(UserStoreContract, ExpiredTokenIsRejected) {
  SeedLogin();
  SHOPD_EXPECT_ERRC(Rotate("t1", "t2", kNow + kTtl), core::Errc::kUnauthenticated);
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3", kNow + kTtl), core::Errc::kUnauthenticated);
  // A rejected expired token is not spent: the family is not revoked by it.
  ASSERT_TRUE(Insert(MakeToken("t9", "u1", "f1", kNow + kTtl)));
  EXPECT_TRUE(Rotate("t9", "t10", kNow + kTtl + 1));
}

TEST_P(UserStoreContract, RevokedFamilyCannotRotate) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2"));
  ASSERT_TRUE(Insert(MakeToken("other", "u1", "f2")));

  ASSERT_TRUE(Await(store().RevokeRefreshFamily("t2", kNow + 2)));
  SHOPD_EXPECT_ERRC(Rotate("t2", "t3", kNow + 3), core::Errc::kUnauthenticated);
  // Another login of the same user is untouched.
  EXPECT_TRUE(Rotate("other", "other2", kNow + 3, "u1", "f2"));
}

TEST_P(UserStoreContract, RevokingAnUnknownTokenIsNotAnError) {
  EXPECT_TRUE(Await(store().RevokeRefreshFamily("nope", kNow)));
}

TEST_P(UserStoreContract, PingSucceeds) { EXPECT_TRUE(Await(store().Ping())); }

TEST_P(UserStoreContract, ConcurrentSignupsWithOneEmailExactlyOneWins) {
  constexpr int kClients = 20;
  auto results = RunTogether<User>(
      kClients, [&](int i) { return store().CreateUser(MakeUser("u" + std::to_string(i), "same@example.com")); });

  int ok = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << "a coroutine threw";
    if (r->has_value())
      ++ok;
    else
      EXPECT_EQ(r->error().code, core::Errc::kConflict) << r->error().internal;
  }
  EXPECT_EQ(ok, 1);
}

TEST_P(UserStoreContract, ConcurrentRotationsOfOneTokenExactlyOneWins) {
  SeedLogin();
  constexpr int kClients = 10;
  auto results = RunTogether<Rotation>(kClients, [&](int i) {
    return store().RotateRefreshToken("t1", MakeToken("n" + std::to_string(i), "u1", "f1", kNow + 1), kNow + 1, 0);
  });

  int ok = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << "a coroutine threw";
    if (r->has_value())
      ++ok;
    else
      EXPECT_EQ(r->error().code, core::Errc::kUnauthenticated) << r->error().internal;
  }
  EXPECT_EQ(ok, 1);
  // The losers were replays of a spent token, so no successor survives.
  for (int i = 0; i < kClients; ++i) {
    SHOPD_EXPECT_ERRC(Rotate("n" + std::to_string(i), "x" + std::to_string(i), kNow + 2),
                      core::Errc::kUnauthenticated);
  }
}


TEST_P(UserStoreContract, FindRefreshTokenReadsTheStoredState) {
  SeedLogin();
  SHOPD_EXPECT_ERRC(Await(store().FindRefreshToken("nope")), core::Errc::kNotFound);
  auto fresh = Await(store().FindRefreshToken("t1"));
  ASSERT_TRUE(fresh) << fresh.error().internal;
  EXPECT_EQ(fresh->token.user_id, "u1");
  EXPECT_EQ(fresh->token.family_id, "f1");
  EXPECT_EQ(fresh->token.issued_at, kNow);
  EXPECT_EQ(fresh->token.expires_at, kNow + kTtl);
  EXPECT_EQ(fresh->token.family_started_at, kNow);
  EXPECT_FALSE(fresh->spent);
  EXPECT_FALSE(fresh->revoked);
  ASSERT_TRUE(Rotate("t1", "t2"));
  auto spent = Await(store().FindRefreshToken("t1"));
  ASSERT_TRUE(spent);
  EXPECT_TRUE(spent->spent);
  EXPECT_FALSE(spent->revoked);
  auto successor = Await(store().FindRefreshToken("t2"));
  ASSERT_TRUE(successor);
  EXPECT_EQ(successor->token.family_started_at, kNow);
  ASSERT_TRUE(Await(store().RevokeRefreshFamily("t2", kNow + 2)));
  auto revoked = Await(store().FindRefreshToken("t2"));
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->revoked);
}

TEST_P(UserStoreContract, RotationRefusesAFamilyPastItsLifetimeEvenWithAFreshToken) {
  SeedLogin();
  ASSERT_TRUE(Rotate("t1", "t2", kNow + 100));  // t2 is fresh until kNow + 100 + kTtl
  // Families that started before kNow + 1 are over.
  auto refused = Rotate("t2", "t3", kNow + 200, "u1", "f1", /*oldest_family_start=*/kNow + 1);
  SHOPD_EXPECT_ERRC(refused, core::Errc::kUnauthenticated);
  // Refusing it spent nothing and revoked nothing.
  EXPECT_TRUE(Live("t2"));
  SHOPD_EXPECT_ERRC(Await(store().FindRefreshToken("t3")), core::Errc::kNotFound);
  EXPECT_TRUE(Rotate("t2", "t3", kNow + 200, "u1", "f1", /*oldest_family_start=*/kNow));
}

TEST_P(UserStoreContract, RevokeSessionsRevokesEveryTokenAndRaisesTheVersion) {
  SeedLogin();
  ASSERT_TRUE(Insert(MakeToken("t-other", "u1", "f2")));
  ASSERT_TRUE(Rotate("t1", "t2"));
  ASSERT_TRUE(Create(MakeUser("u2", "b@example.com")));
  ASSERT_TRUE(Insert(MakeToken("t-u2", "u2", "f3")));

  auto user = Await(store().RevokeSessions(SessionRevocation{.user_id = "u1"}, kNow + 5));
  ASSERT_TRUE(user) << user.error().internal;
  EXPECT_EQ(user->id, "u1");
  EXPECT_EQ(user->token_version, 1);
  EXPECT_EQ(user->role, "user");  // unchanged
  EXPECT_EQ(user->password_hash, MakeUser("u1", "a@example.com").password_hash);
  EXPECT_FALSE(Live("t2"));
  EXPECT_FALSE(Live("t-other"));
  SHOPD_EXPECT_ERRC(Rotate("t2", "t9", kNow + 6), core::Errc::kUnauthenticated);
  SHOPD_EXPECT_ERRC(Rotate("t-other", "t9", kNow + 6, "u1", "f2"), core::Errc::kUnauthenticated);
  // Other users are untouched.
  EXPECT_TRUE(Live("t-u2"));
  auto u2 = Await(store().FindUserById("u2"));
  ASSERT_TRUE(u2);
  EXPECT_EQ(u2->token_version, 0);
  auto found = Await(store().FindUserById("u1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->token_version, 1);

  SHOPD_EXPECT_ERRC(Await(store().RevokeSessions(SessionRevocation{.user_id = "nobody"}, kNow)),
                    core::Errc::kNotFound);
}

TEST_P(UserStoreContract, RoleAndPasswordChangesRevokeSessionsInTheSameTransaction) {
  SeedLogin();
  auto promoted = Await(store().RevokeSessions(SessionRevocation{.user_id = "u1", .new_role = "admin"}, kNow + 1));
  ASSERT_TRUE(promoted) << promoted.error().internal;
  EXPECT_EQ(promoted->role, "admin");
  EXPECT_EQ(promoted->token_version, 1);
  EXPECT_FALSE(Live("t1"));

  ASSERT_TRUE(Insert(MakeToken("t2", "u1", "f2", kNow + 2), /*token_version=*/1));
  auto repassworded = Await(
      store().RevokeSessions(SessionRevocation{.user_id = "u1", .new_password_hash = "other-hash"}, kNow + 3));
  ASSERT_TRUE(repassworded);
  EXPECT_EQ(repassworded->password_hash, "other-hash");
  EXPECT_EQ(repassworded->role, "admin");
  EXPECT_EQ(repassworded->token_version, 2);
  EXPECT_FALSE(Live("t2"));
  auto found = Await(store().FindUserById("u1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->password_hash, "other-hash");
  EXPECT_EQ(found->role, "admin");
}

TEST_P(UserStoreContract, ALoginThatReadAnOlderVersionStoresNoToken) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  ASSERT_TRUE(Await(store().RevokeSessions(SessionRevocation{.user_id = "u1"}, kNow)));
  SHOPD_EXPECT_ERRC(Insert(MakeToken("late", "u1", "f1"), /*token_version=*/0), core::Errc::kConflict);
  SHOPD_EXPECT_ERRC(Await(store().FindRefreshToken("late")), core::Errc::kNotFound);
  EXPECT_TRUE(Insert(MakeToken("current", "u1", "f2"), /*token_version=*/1));
  SHOPD_EXPECT_ERRC(Insert(MakeToken("ghost", "nobody", "f3"), 0), core::Errc::kConflict);
}

TEST_P(UserStoreContract, PurgeDeletesWhatCanNoLongerMatterInBoundedBatches) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  // Expired by kNow + kTtl: three never used, one revoked.
  for (const char* h : {"old1", "old2", "old3"}) ASSERT_TRUE(Insert(MakeToken(h, "u1", std::string("fam-") + h)));
  ASSERT_TRUE(Insert(MakeToken("revoked", "u1", "fam-r")));
  ASSERT_TRUE(Await(store().RevokeRefreshFamily("revoked", kNow + 1)));
  // A live family: its spent token has expired but is kept for reuse detection.
  ASSERT_TRUE(Insert(MakeToken("spent", "u1", "fam-live")));
  ASSERT_TRUE(Rotate("spent", "live", kNow + kTtl - 1, "u1", "fam-live"));
  // Not expired yet.
  ASSERT_TRUE(Insert(MakeToken("young", "u1", "fam-y", kNow + kTtl)));

  const int64_t now = kNow + kTtl;
  auto first = Await(store().PurgeRefreshTokens(now, /*oldest_family_start=*/0, /*limit=*/3));
  ASSERT_TRUE(first) << first.error().internal;
  EXPECT_EQ(*first, 3);
  auto second = Await(store().PurgeRefreshTokens(now, 0, 3));
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 1);
  auto third = Await(store().PurgeRefreshTokens(now, 0, 3));
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, 0);
  for (const char* h : {"old1", "old2", "old3", "revoked"})
    SHOPD_EXPECT_ERRC(Await(store().FindRefreshToken(h)), core::Errc::kNotFound);
  for (const char* h : {"spent", "live", "young"}) EXPECT_TRUE(Await(store().FindRefreshToken(h))) << h;
  // The spent token is still recognised as a replay...
  auto replay = Rotate("spent", "x", now + 1, "u1", "fam-live");
  SHOPD_EXPECT_ERRC(replay, core::Errc::kUnauthenticated);
  EXPECT_EQ(replay.error().message, "refresh token reuse detected");
  // ...until its family is over: then the whole family goes, expired or not.
  auto over = Await(store().PurgeRefreshTokens(now + 2, /*oldest_family_start=*/kNow + 1, 10));
  ASSERT_TRUE(over);
  EXPECT_EQ(*over, 2);
  for (const char* h : {"spent", "live"}) SHOPD_EXPECT_ERRC(Await(store().FindRefreshToken(h)), core::Errc::kNotFound);
  EXPECT_TRUE(Await(store().FindRefreshToken("young")));
}

TEST_P(UserStoreContract, PurgeOfFamiliesPastTheirLifetimeIsBoundedToo) {
  ASSERT_TRUE(Create(MakeUser("u1", "a@example.com")));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Insert(MakeToken("t" + std::to_string(i), "u1", "old-family")));
  ASSERT_TRUE(Insert(MakeToken("expired", "u1", "f2")));
  // All six rows may go (five of an over family, one expired); three per batch.
  const int64_t now = kNow + kTtl;
  auto first = Await(store().PurgeRefreshTokens(now, /*oldest_family_start=*/kNow + 1, 3));
  ASSERT_TRUE(first) << first.error().internal;
  EXPECT_EQ(*first, 3);
  auto second = Await(store().PurgeRefreshTokens(now, kNow + 1, 3));
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 3);
  auto third = Await(store().PurgeRefreshTokens(now, kNow + 1, 3));
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, 0);
}

}  // namespace shopd::storage::contract

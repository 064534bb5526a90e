// storage/postgres: UserStore on PostgreSQL (the scale-out topology). Depends
// on storage and the pool.
//
// Same behaviour as storage/sqlite's store, checked by the same contract
// suite; each call is a coroutine on the pool, never blocking a thread.
// Rotation locks the token row (SELECT ... FOR UPDATE), so concurrent
// rotations of one token serialise and exactly one wins.
#pragma once

#include "storage/postgres/pg_pool.h"
#include "storage/user_store.h"

namespace shopd::storage::postgres {

class PgUserStore final : public UserStore {
 public:
  // `pool` must outlive the store; its schema must be migrated (ApplyMigrations).
  explicit PgUserStore(PgPool& pool) : pool_(pool) {}

  Async<User> CreateUser(User user) override;
  Async<User> FindUserByEmail(std::string email) override;
  Async<User> FindUserById(std::string id) override;
  Async<User> CreateUserIfAbsent(User user) override;
  Async<User> RevokeSessions(SessionRevocation revocation, int64_t now) override;
  Async<void> InsertRefreshToken(RefreshToken token, int64_t token_version) override;
  Async<StoredRefreshToken> FindRefreshToken(std::string token_hash) override;
  Async<Rotation> RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                     int64_t oldest_family_start) override;
  Async<void> RevokeRefreshFamily(std::string token_hash, int64_t now) override;
  Async<int64_t> PurgeRefreshTokens(int64_t now, int64_t oldest_family_start, int64_t limit) override;
  Async<void> Ping() override;

 private:
  PgPool& pool_;
};

}  // namespace shopd::storage::postgres

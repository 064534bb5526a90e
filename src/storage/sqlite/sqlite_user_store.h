// storage/sqlite: UserStore over the embedded SQLite database. Depends on
// storage, exec and this folder.
//
// Every call runs its blocking SQLite work on the worker pool, so reactor
// threads never wait on disk or locks; a full pool answers kUnavailable.
//
//   SqliteUserStore store(*db, pool);
//   core::Result<User> u = co_await store.FindUserById(id);
#pragma once

#include "exec/worker_pool.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/user_store.h"

namespace shopd::storage::sqlite {

class SqliteUserStore final : public UserStore {
 public:
  // Both must outlive the store.
  SqliteUserStore(SqliteDatabase& db, exec::WorkerPool& pool) : db_(db), pool_(pool) {}

  // UserStore
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
  SqliteDatabase& db_;
  exec::WorkerPool& pool_;
};

}  // namespace shopd::storage::sqlite

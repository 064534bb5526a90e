// services/users: a bounded, TTL'd, sharded LRU of user records by id, so the
// hot authenticated path (/v1/users/me) is answered without a store round trip.
//
// Bounded in entries; an entry older than the TTL is a miss. Writes to a user
// go through Invalidate or Put. Put never replaces an entry by one of a lower
// token version, so a slow read cannot undo a revocation. Password hashes are
// never cached.
#pragma once

#include <array>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "storage/user_store.h"

namespace shopd::services {

class UserCache {
 public:
  UserCache(const core::Clock& clock, size_t max_entries, int64_t ttl_ms);

  std::optional<storage::User> Get(const std::string& id);
  // The cached user's token version, without copying the record (the check
  // every authenticated request makes).
  std::optional<int64_t> TokenVersion(const std::string& id);
  void Put(storage::User user);
  void Invalidate(const std::string& id);
  size_t size() const;

 private:
  static constexpr size_t kShards = 8;
  struct Entry {
    storage::User user;
    int64_t expires_ms;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // front = most recent
    std::unordered_map<std::string, std::list<Entry>::iterator> index;
  };
  Shard& ShardFor(const std::string& id) { return shards_[std::hash<std::string>{}(id) % kShards]; }

  const core::Clock& clock_;
  const size_t max_per_shard_;
  const int64_t ttl_ms_;
  std::array<Shard, kShards> shards_;
};

}  // namespace shopd::services

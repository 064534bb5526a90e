#include "services/users/user_cache.h"

namespace shopd::services {

UserCache::UserCache(const core::Clock& clock, size_t max_entries, int64_t ttl_ms)
    : clock_(clock), max_per_shard_(std::max<size_t>(1, max_entries / kShards)), ttl_ms_(ttl_ms) {}

std::optional<storage::User> UserCache::Get(const std::string& id) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(id);
  if (it == s.index.end()) return std::nullopt;
  if (it->second->expires_ms <= clock_.MonotonicMs()) {
    s.lru.erase(it->second);
    s.index.erase(it);
    return std::nullopt;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->user;
}

std::optional<int64_t> UserCache::TokenVersion(const std::string& id) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(id);
  if (it == s.index.end() || it->second->expires_ms <= clock_.MonotonicMs()) return std::nullopt;
  return it->second->user.token_version;
}

void UserCache::Put(storage::User user) {
  user.password_hash.clear();
  Shard& s = ShardFor(user.id);
  std::lock_guard lock(s.mu);
  const int64_t expires = clock_.MonotonicMs() + ttl_ms_;
  if (auto it = s.index.find(user.id); it != s.index.end()) {
    // A read that started before a revocation must not put the old version back.
    if (it->second->user.token_version > user.token_version) return;
    it->second->user = std::move(user);
    it->second->expires_ms = expires;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  if (s.index.size() >= max_per_shard_) {
    s.index.erase(s.lru.back().user.id);
    s.lru.pop_back();
  }
  std::string id = user.id;
  s.lru.push_front(Entry{std::move(user), expires});
  s.index.emplace(std::move(id), s.lru.begin());
}

void UserCache::Invalidate(const std::string& id) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  if (auto it = s.index.find(id); it != s.index.end()) {
    s.lru.erase(it->second);
    s.index.erase(it);
  }
}

size_t UserCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.index.size();
  }
  return n;
}

}  // namespace shopd::services

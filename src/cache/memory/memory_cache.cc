#include "cache/memory/memory_cache.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shopd::cache {
namespace {

using WaitResult = std::optional<core::Result<std::string>>;

// A parked GetOrLoad caller and the executor it resumes on.
struct Waiter {
  boost::asio::any_io_executor executor;
  boost::asio::any_completion_handler<void(WaitResult)> handler;
};

size_t HashKey(std::string_view key) { return std::hash<std::string_view>{}(key); }

// A key with its hash computed once: it picks the shard and is reused by the
// shard's maps through heterogeneous lookup.
struct KeyRef {
  std::string_view key;
  size_t hash;
};

struct KeyHash {
  using is_transparent = void;
  // Deliberately not noexcept: libstdc++ then keeps each node's hash, so
  // lookups, rehashes and erasures never hash a stored key again.
  size_t operator()(const std::string& key) const { return HashKey(key); }
  size_t operator()(const KeyRef& key) const noexcept { return key.hash; }
};
static_assert(!std::is_nothrow_invocable_v<const KeyHash&, const std::string&>);

struct KeyEq {
  using is_transparent = void;
  bool operator()(const std::string& a, const std::string& b) const noexcept { return a == b; }
  bool operator()(const KeyRef& a, const std::string& b) const noexcept { return a.key == b; }
  bool operator()(const std::string& a, const KeyRef& b) const noexcept { return a == b.key; }
};

struct Entry;
using Node = std::pair<const std::string, Entry>;

struct Entry {
  std::shared_ptr<const std::string> value;  // shared so a hit copies it outside the lock
  int64_t expires_ms = 0;
  size_t hash = 0;
  Node* newer = nullptr;  // LRU neighbours
  Node* older = nullptr;
};

using EntryMap = std::unordered_map<std::string, Entry, KeyHash, KeyEq>;

size_t Cost(const Node& n) { return n.first.size() + n.second.value->size(); }

int64_t ExpiryMs(int64_t now_ms, std::chrono::milliseconds ttl) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  return ttl.count() >= max - now_ms ? max : now_ms + ttl.count();
}

// Resumes a waiting GetOrLoad on its own executor.
void Complete(Waiter waiter, WaitResult result) {
  boost::asio::post(waiter.executor, [handler = std::move(waiter.handler), result = std::move(result)]() mutable {
    std::move(handler)(std::move(result));
  });
}

core::Error Unavailable(std::string internal) {
  return core::Error{core::Errc::kUnavailable, "temporarily unavailable, retry shortly", {},
                     std::move(internal), 1, {}};
}

}  // namespace

// Changes to report to the metrics once the shard lock is released.
struct MemoryCache::Delta {
  int64_t entries = 0;
  int64_t bytes = 0;
  uint64_t evictions = 0;
};

// One key's load in progress; lives in the loading coroutine's frame.
struct MemoryCache::Flight {
  std::vector<Waiter> waiters;
};

struct alignas(64) MemoryCache::Shard {
  std::mutex mu;
  EntryMap entries;
  std::unordered_map<std::string, Flight*, KeyHash, KeyEq> flights;
  Node* newest = nullptr;
  Node* oldest = nullptr;
  size_t bytes = 0;

  // The live value for `key`, now the most recently used. An expired entry is
  // moved into `expired`, for the caller to free after unlocking.
  std::shared_ptr<const std::string> Lookup(const KeyRef& key, int64_t now_ms, EntryMap::node_type& expired,
                                            Delta& delta) {
    auto it = entries.find(key);
    if (it == entries.end()) return nullptr;
    if (now_ms < it->second.expires_ms) {
      Touch(&*it);
      return it->second.value;
    }
    expired = Remove(it, delta);
    return nullptr;
  }

  void Store(std::string key, size_t hash, std::shared_ptr<const std::string> value, int64_t expires_ms,
             int64_t now_ms, size_t max_entries, size_t max_bytes, Delta& delta) {
    auto [it, inserted] = entries.try_emplace(std::move(key));
    Node* n = &*it;
    if (inserted) {
      n->second.hash = hash;
      Link(n);
      ++delta.entries;
    } else {
      const size_t old = Cost(*n);
      bytes -= old;
      delta.bytes -= static_cast<int64_t>(old);
      Touch(n);
    }
    n->second.value = std::move(value);
    n->second.expires_ms = expires_ms;
    bytes += Cost(*n);
    delta.bytes += static_cast<int64_t>(Cost(*n));
    // `n` alone always fits (the caller checked its size), so this stops.
    while ((entries.size() > max_entries || bytes > max_bytes) && oldest != n) {
      Node* victim = oldest;
      if (now_ms < victim->second.expires_ms) ++delta.evictions;  // expired ones are not a capacity signal
      Remove(entries.find(KeyRef{victim->first, victim->second.hash}), delta);
    }
  }

  EntryMap::node_type Remove(EntryMap::iterator it, Delta& delta) {
    Node* n = &*it;
    Unlink(n);
    const size_t cost = Cost(*n);
    bytes -= cost;
    delta.bytes -= static_cast<int64_t>(cost);
    --delta.entries;
    return entries.extract(it);
  }

  // A write makes an in-flight load's result stale: that load no longer
  // stores it, and later callers start a fresh load instead of joining.
  void DetachFlight(const KeyRef& key) {
    auto it = flights.find(key);
    if (it != flights.end()) flights.erase(it);
  }

  void Link(Node* n) {
    n->second.newer = nullptr;
    n->second.older = newest;
    if (newest) {
      newest->second.newer = n;
    } else {
      oldest = n;
    }
    newest = n;
  }

  void Unlink(Node* n) {
    Entry& e = n->second;
    if (e.newer) {
      e.newer->second.older = e.older;
    } else {
      newest = e.older;
    }
    if (e.older) {
      e.older->second.newer = e.newer;
    } else {
      oldest = e.newer;
    }
    e.newer = e.older = nullptr;
  }

  void Touch(Node* n) {
    if (newest == n) return;
    Unlink(n);
    Link(n);
  }
};

// Finishes a flight exactly once: with the loader's result, or, when the
// loading coroutine unwinds (an exception, or its frame destroyed while
// suspended), with kUnavailable so that no waiter hangs.
class MemoryCache::FlightGuard {
 public:
  FlightGuard(MemoryCache& cache, Shard& shard, std::string_view key, size_t hash, Flight& flight)
      : cache_(cache), shard_(shard), key_(key), hash_(hash), flight_(flight) {}
  FlightGuard(const FlightGuard&) = delete;
  FlightGuard& operator=(const FlightGuard&) = delete;
  ~FlightGuard() {
    if (!finished_) {
      cache_.FinishFlight(shard_, key_, hash_, flight_, Unavailable("cache: the load of this key was abandoned"),
                          std::chrono::milliseconds(0));
    }
  }

  void Finish(const core::Result<std::string>& result, std::chrono::milliseconds ttl) {
    finished_ = true;
    cache_.FinishFlight(shard_, key_, hash_, flight_, result, ttl);
  }

 private:
  MemoryCache& cache_;
  Shard& shard_;
  std::string_view key_;
  size_t hash_;
  Flight& flight_;
  bool finished_ = false;
};

MemoryCache::MemoryCache(const core::Clock& clock, MemoryCacheOptions options, obs::MetricsRegistry* metrics,
                         std::string name)
    : clock_(clock),
      options_(options),
      shard_mask_(std::bit_ceil(std::clamp<size_t>(options.shards, 1, 1024)) - 1),
      max_entries_per_shard_(std::max<size_t>(1, options.max_entries / (shard_mask_ + 1))),
      max_bytes_per_shard_(std::max<size_t>(1, options.max_bytes / (shard_mask_ + 1))),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)),
      hits_(&own_hits_),
      misses_(&own_misses_),
      evictions_(&own_evictions_),
      entries_(&own_entries_),
      bytes_(&own_bytes_) {
  if (metrics == nullptr) return;
  const obs::Labels labels{{"cache", std::move(name)}};
  hits_ = &metrics->GetCounter("shopd_cache_hits_total", "Cache lookups that found a live entry.", labels);
  misses_ = &metrics->GetCounter("shopd_cache_misses_total", "Cache lookups that found no live entry.", labels);
  evictions_ = &metrics->GetCounter("shopd_cache_evictions_total",
                                    "Live cache entries evicted to stay within the entry or byte bound.", labels);
  entries_ = &metrics->GetGauge("shopd_cache_entries", "Entries held by the cache, expired ones included.", labels);
  bytes_ = &metrics->GetGauge("shopd_cache_bytes", "Key and value bytes held by the cache.", labels);
}

MemoryCache::~MemoryCache() {
  entries_->Add(-static_cast<double>(size()));
  bytes_->Add(-static_cast<double>(bytes()));
}

MemoryCache::Shard& MemoryCache::ShardFor(size_t hash) const {
  // Fibonacci mixing, so the shard does not follow the map's bucket index.
  return shards_[((hash * 0x9E3779B97F4A7C15ull) >> 32) & shard_mask_];
}

boost::asio::awaitable<std::optional<std::string>> MemoryCache::Get(std::string key) {
  co_return TryGet(key);
}

boost::asio::awaitable<void> MemoryCache::Set(std::string key, std::string value, std::chrono::milliseconds ttl) {
  Put(std::move(key), std::move(value), ttl);
  co_return;
}

boost::asio::awaitable<void> MemoryCache::Delete(std::string key) {
  Erase(key);
  co_return;
}

std::optional<std::string> MemoryCache::TryGet(std::string_view key) {
  std::shared_ptr<const std::string> value = Find(key, HashKey(key));
  if (!value) return std::nullopt;
  return std::string(*value);
}

std::shared_ptr<const std::string> MemoryCache::Find(std::string_view key, size_t hash) {
  Shard& shard = ShardFor(hash);
  const int64_t now_ms = clock_.MonotonicMs();
  std::shared_ptr<const std::string> value;
  EntryMap::node_type expired;
  Delta delta;
  {
    std::lock_guard lock(shard.mu);
    value = shard.Lookup(KeyRef{key, hash}, now_ms, expired, delta);
  }
  (value ? hits_ : misses_)->Inc();
  if (expired) Apply(delta);
  return value;
}

void MemoryCache::Put(std::string key, std::string value, std::chrono::milliseconds ttl) {
  const size_t hash = HashKey(key);
  if (ttl.count() <= 0 || key.size() + value.size() > max_bytes_per_shard_) {
    Drop(key, hash);  // declined, and the previous value must not outlive the write
    return;
  }
  Shard& shard = ShardFor(hash);
  auto shared = std::make_shared<const std::string>(std::move(value));
  const int64_t now_ms = clock_.MonotonicMs();
  Delta delta;
  {
    std::lock_guard lock(shard.mu);
    shard.DetachFlight(KeyRef{key, hash});
    shard.Store(std::move(key), hash, std::move(shared), ExpiryMs(now_ms, ttl), now_ms, max_entries_per_shard_,
                max_bytes_per_shard_, delta);
  }
  Apply(delta);
}

void MemoryCache::Erase(std::string_view key) { Drop(key, HashKey(key)); }

void MemoryCache::Drop(std::string_view key, size_t hash) {
  Shard& shard = ShardFor(hash);
  const KeyRef ref{key, hash};
  EntryMap::node_type removed;
  Delta delta;
  {
    std::lock_guard lock(shard.mu);
    shard.DetachFlight(ref);
    auto it = shard.entries.find(ref);
    if (it != shard.entries.end()) removed = shard.Remove(it, delta);
  }
  Apply(delta);
}

boost::asio::awaitable<core::Result<std::string>> MemoryCache::GetOrLoad(std::string key,
                                                                         std::chrono::milliseconds ttl,
                                                                         Loader load) {
  const size_t hash = HashKey(key);
  Shard& shard = ShardFor(hash);
  const KeyRef ref{key, hash};
  Flight flight;  // registered below if this caller loads
  bool counted = false;
  for (;;) {
    const int64_t now_ms = clock_.MonotonicMs();
    std::shared_ptr<const std::string> value;
    EntryMap::node_type expired;
    Delta delta;
    bool lead = false;
    {
      std::lock_guard lock(shard.mu);
      value = shard.Lookup(ref, now_ms, expired, delta);
      if (!value && shard.flights.find(ref) == shard.flights.end()) {
        shard.flights.emplace(key, &flight);
        lead = true;
      }
    }
    if (!counted) {
      (value ? hits_ : misses_)->Inc();
      counted = true;
    }
    if (expired) Apply(delta);
    if (value) co_return std::string(*value);
    if (lead) break;
    std::optional<core::Result<std::string>> joined = co_await JoinFlight(shard, key, hash);
    if (joined) co_return std::move(*joined);
    // The load finished (or was invalidated) before we could join: look again.
  }

  FlightGuard guard(*this, shard, key, hash, flight);
  core::Result<std::string> result = co_await load();
  guard.Finish(result, ttl);
  co_return result;
}

boost::asio::awaitable<std::optional<core::Result<std::string>>> MemoryCache::JoinFlight(Shard& shard,
                                                                                        std::string_view key,
                                                                                        size_t hash) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(WaitResult)>(
      [this, &shard, key, hash](auto handler) {
        std::unique_lock lock(shard.mu);
        auto it = shard.flights.find(KeyRef{key, hash});
        boost::asio::any_io_executor executor = boost::asio::get_associated_executor(handler);
        if (it != shard.flights.end() && it->second->waiters.size() < options_.max_waiters_per_key) {
          it->second->waiters.push_back(Waiter{std::move(executor), std::move(handler)});
          return;
        }
        const bool gone = it == shard.flights.end();
        lock.unlock();
        WaitResult result;  // nullopt: look again
        if (!gone) result = core::Result<std::string>(Unavailable("cache: too many callers waiting for one key"));
        Complete(Waiter{std::move(executor), std::move(handler)}, std::move(result));
      },
      boost::asio::use_awaitable);
}

void MemoryCache::FinishFlight(Shard& shard, std::string_view key, size_t hash, Flight& flight,
                               const core::Result<std::string>& result, std::chrono::milliseconds ttl) {
  const KeyRef ref{key, hash};
  std::shared_ptr<const std::string> value;
  if (result && ttl.count() > 0 && key.size() + result->size() <= max_bytes_per_shard_) {
    value = std::make_shared<const std::string>(*result);
  }
  const int64_t now_ms = clock_.MonotonicMs();
  std::vector<Waiter> waiters;
  Delta delta;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.flights.find(ref);
    if (it != shard.flights.end() && it->second == &flight) {  // not detached by a write
      shard.flights.erase(it);
      if (value) {
        shard.Store(std::string(key), hash, std::move(value), ExpiryMs(now_ms, ttl), now_ms,
                    max_entries_per_shard_, max_bytes_per_shard_, delta);
      }
    }
    waiters.swap(flight.waiters);
  }
  Apply(delta);
  for (Waiter& waiter : waiters) Complete(std::move(waiter), result);
}

void MemoryCache::Apply(const Delta& delta) {
  if (delta.entries != 0) entries_->Add(static_cast<double>(delta.entries));
  if (delta.bytes != 0) bytes_->Add(static_cast<double>(delta.bytes));
  if (delta.evictions != 0) evictions_->Inc(delta.evictions);
}

size_t MemoryCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].entries.size();
  }
  return n;
}

size_t MemoryCache::bytes() const {
  size_t n = 0;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].bytes;
  }
  return n;
}

}  // namespace shopd::cache

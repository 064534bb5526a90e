// storage/postgres: where reads that tolerate lag go — a streaming replica
// when there is one and it answers, else the primary. Depends on the pool.
//
// A replica that fails a read as unavailable (down, unreachable, timed out)
// is skipped for `hold_off`; the read is run again on the primary at once, so
// a replica outage costs no request more than one failed attempt.
//
//   PgReadPools reads(primary, &replica);
//   auto page = co_await reads.Read<ProductPage>([&](PgPool& pool) { return List(pool, ...); });
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "core/error.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::storage::postgres {

class PgReadPools {
 public:
  // Both must outlive this; `replica` may be null (every read on the primary).
  explicit PgReadPools(PgPool& primary, PgPool* replica = nullptr,
                       std::chrono::milliseconds hold_off = std::chrono::seconds(5))
      : primary_(primary), replica_(replica), hold_off_ms_(hold_off.count()) {}

  template <class T>
  using ReadFn = std::function<boost::asio::awaitable<core::Result<T>>(PgPool&)>;

  template <class T>
  boost::asio::awaitable<core::Result<T>> Read(ReadFn<T> read) {
    if (replica_ != nullptr && NowMs() >= replica_down_until_ms_.load()) {
      core::Result<T> on_replica = co_await read(*replica_);
      if (on_replica || on_replica.error().code != core::Errc::kUnavailable) co_return on_replica;
      replica_down_until_ms_ = NowMs() + hold_off_ms_;
      replica_failures_.fetch_add(1);
    }
    co_return co_await read(primary_);
  }

  PgPool& primary() { return primary_; }
  bool has_replica() const { return replica_ != nullptr; }
  // Reads the replica failed (each moved reads to the primary for a while).
  uint64_t replica_failures() const { return replica_failures_.load(); }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  PgPool& primary_;
  PgPool* replica_;
  const int64_t hold_off_ms_;
  std::atomic<int64_t> replica_down_until_ms_{0};
  std::atomic<uint64_t> replica_failures_{0};
};

}  // namespace shopd::storage::postgres

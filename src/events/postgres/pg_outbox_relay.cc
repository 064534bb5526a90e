#include "events/postgres/pg_outbox_relay.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

#include "storage/postgres/pg_transaction.h"

namespace shopd::events::postgres {
namespace {

using storage::postgres::PgConnection;
using storage::postgres::PgParam;
using storage::postgres::Run;
using Ms = std::chrono::milliseconds;

constexpr size_t kMaxBatch = 10'000;
// Any constant: the key of the advisory lock relays take turns under.
constexpr const char* kRelayLock = "7319005";

boost::asio::awaitable<core::Result<size_t>> MoveBatch(PgConnection& conn, Ms t, size_t batch_size, int64_t now_ms) {
  if (auto r = co_await Run(conn, t, std::string("SELECT pg_advisory_xact_lock(") + kRelayLock + ")"); !r)
    co_return r.error();
  std::vector<PgParam> limit{std::to_string(batch_size)};
  auto rows = co_await Run(conn, t,
                           "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1) "
                           "RETURNING id, topic, key, payload, created_ms",
                           std::move(limit));
  if (!rows) co_return rows.error();
  if (rows->rows() == 0) co_return size_t{0};
  std::vector<std::pair<int64_t, EventInput>> numbered;
  numbered.reserve(static_cast<size_t>(rows->rows()));
  for (int i = 0; i < rows->rows(); ++i)
    numbered.push_back({rows->Int64(i, 0), EventInput{rows->Text(i, 1), rows->Text(i, 2), rows->Text(i, 3),
                                                      rows->Int64(i, 4)}});
  // RETURNING gives no order: the log takes them in id order.
  std::sort(numbered.begin(), numbered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EventInput> events;
  events.reserve(numbered.size());
  for (auto& [id, e] : numbered) events.push_back(std::move(e));
  auto appended = co_await AppendEvents(conn, events, now_ms, t);
  if (!appended) co_return appended.error();
  if (auto r = co_await Run(conn, t, std::string("NOTIFY ") + kEventsChannel); !r) co_return r.error();
  co_return events.size();
}

}  // namespace

PgOutboxRelay::PgOutboxRelay(storage::postgres::PgPool& pool, PgEventLog& log, OutboxRelayOptions options)
    : OutboxRelay([&] {
        options.batch_size = std::clamp<size_t>(options.batch_size, 1, kMaxBatch);
        return std::move(options);
      }()),
      pool_(pool),
      log_(log) {}

Async<size_t> PgOutboxRelay::RelayOnce() {
  const Ms t = pool_.options().query_timeout;
  const size_t batch = options().batch_size;
  const int64_t now_ms = log_.NowMs();
  storage::postgres::TxBody<size_t> body = [t, batch, now_ms](PgConnection& conn) {
    return MoveBatch(conn, t, batch, now_ms);
  };
  return storage::postgres::InTransaction<size_t>(pool_, std::move(body));
}

namespace {
boost::asio::awaitable<core::Result<int64_t>> CountPending(storage::postgres::PgPool& pool) {
  auto r = co_await pool.Query("SELECT count(*) FROM outbox", {});
  if (!r) co_return r.error();
  co_return r->Int64(0, 0);
}
}  // namespace

Async<int64_t> PgOutboxRelay::Pending() { return CountPending(pool_); }

}  // namespace shopd::events::postgres

#include "events/postgres/pg_event_log.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "storage/postgres/pg_text.h"

namespace shopd::events::postgres {
namespace {

using storage::postgres::ArrayLiteral;
using storage::postgres::IsText;
using storage::postgres::PgConnection;
using storage::postgres::PgParam;
using storage::postgres::PgResult;
using storage::postgres::Run;

template <class T>
using Awaitable = boost::asio::awaitable<T>;

constexpr size_t kMaxNameBytes = 255;
// Text bytes (topics, keys, payloads) per append statement: each column of a
// batch travels as one array parameter, and PostgreSQL caps a value at 1 GB.
// Larger batches take several statements in one transaction.
constexpr size_t kMaxStatementBytes = size_t{32} << 20;

core::Error Invalid(std::string message) { return core::Error::Make(core::Errc::kInvalidArgument, std::move(message)); }

core::Result<void> ValidateName(const std::string& name, const char* what) {
  if (name.empty() || name.size() > kMaxNameBytes) return Invalid(std::string(what) + " must be 1..255 bytes");
  if (!IsText(name)) return Invalid(std::string(what) + " must be UTF-8 text without NUL bytes");
  return {};
}

// One statement appends a batch. It raises each topic's head by the topic's
// count, taking the head rows' locks in topic order (so that batches sharing
// topics wait for each other instead of deadlocking), numbers the events of
// each topic in input order after the head's previous value, and inserts them.
// The locks are held until the transaction ends: the next appender to a topic
// numbers from the committed head, so offsets follow commit order.
constexpr const char* kAppendSql =
    "WITH input AS ("
    " SELECT u.topic, u.key, u.payload, u.created_ms, u.ord"
    " FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[]) WITH ORDINALITY"
    " AS u(topic, key, payload, created_ms, ord)), "
    "counts AS (SELECT topic, count(*) AS n FROM input GROUP BY topic), "
    "heads AS ("
    " INSERT INTO topic_heads AS h (topic, last_offset) SELECT topic, n FROM counts ORDER BY topic"
    " ON CONFLICT (topic) DO UPDATE SET last_offset = h.last_offset + excluded.last_offset"
    " RETURNING h.topic, h.last_offset), "
    "numbered AS ("
    " SELECT i.ord, i.topic, i.key, i.payload, i.created_ms,"
    " h.last_offset - c.n + row_number() OVER (PARTITION BY i.topic ORDER BY i.ord) AS event_offset"
    " FROM input i JOIN counts c ON c.topic = i.topic JOIN heads h ON h.topic = i.topic), "
    "appended AS ("
    " INSERT INTO events (topic, event_offset, key, payload, created_ms)"
    " SELECT topic, event_offset, key, payload, created_ms FROM numbered) "
    "SELECT event_offset FROM numbered ORDER BY ord";

// events[begin, end) in one statement; their offsets are appended to `offsets`.
Awaitable<core::Result<void>> AppendStatement(PgConnection& conn, std::chrono::milliseconds timeout,
                                              const std::vector<EventInput>& events, size_t begin, size_t end,
                                              int64_t now_ms, std::vector<int64_t>& offsets) {
  ArrayLiteral topic, key, payload, created_ms;
  for (size_t i = begin; i < end; ++i) {
    const EventInput& e = events[i];
    topic.Add(std::string_view(e.topic));
    key.Add(std::string_view(e.key));
    payload.Add(std::string_view(e.payload));
    created_ms.Add(e.created_ms > 0 ? e.created_ms : now_ms);
  }
  std::vector<PgParam> params{topic.Take(), key.Take(), payload.Take(), created_ms.Take()};
  auto r = co_await Run(conn, timeout, kAppendSql, std::move(params));
  if (!r) co_return r.error();
  if (r->rows() != static_cast<int>(end - begin))
    co_return core::Error::Make(core::Errc::kInternal, "internal error", "append returned the wrong number of offsets");
  for (int i = 0; i < r->rows(); ++i) offsets.push_back(r->Int64(i, 0));
  co_return core::Result<void>{};
}

// Where each statement's events end: at most kMaxStatementBytes of text each,
// and at least one event.
std::vector<size_t> StatementEnds(const std::vector<EventInput>& events) {
  std::vector<size_t> ends;
  size_t bytes = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const size_t size = events[i].topic.size() + events[i].key.size() + events[i].payload.size();
    if (i > 0 && bytes + size > kMaxStatementBytes) {
      ends.push_back(i);
      bytes = 0;
    }
    bytes += size;
  }
  ends.push_back(events.size());
  return ends;
}

Awaitable<core::Error> Abort(PgConnection& conn, std::chrono::milliseconds timeout, core::Error error) {
  (void)co_await Run(conn, timeout, "ROLLBACK");
  co_return error;
}

// All of `events`: one statement is a transaction of its own; several share one.
Awaitable<core::Result<std::vector<int64_t>>> AppendAll(PgConnection& conn, std::chrono::milliseconds timeout,
                                                        const std::vector<EventInput>& events, int64_t now_ms,
                                                        bool one_statement) {
  if (one_statement) co_return co_await AppendEvents(conn, events, now_ms, timeout);
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  auto offsets = co_await AppendEvents(conn, events, now_ms, timeout);
  if (!offsets) co_return co_await Abort(conn, timeout, offsets.error());
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return offsets;
}

// The rows of one SELECT event_offset, key, payload, created_ms, as events.
std::vector<Event> CollectEvents(const PgResult& r, const std::string& topic) {
  std::vector<Event> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    Event e;
    e.topic = topic;
    e.offset = r.Int64(i, 0);
    e.key = r.Text(i, 1);
    e.payload = r.Text(i, 2);
    e.created_ms = r.Int64(i, 3);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Awaitable<core::Result<std::vector<int64_t>>> AppendEvents(PgConnection& conn, const std::vector<EventInput>& events,
                                                           int64_t now_ms, std::chrono::milliseconds timeout) {
  std::vector<int64_t> offsets;
  offsets.reserve(events.size());
  size_t begin = 0;
  for (const size_t end : StatementEnds(events)) {
    if (begin == end) continue;
    if (auto r = co_await AppendStatement(conn, timeout, events, begin, end, now_ms, offsets); !r) co_return r.error();
    begin = end;
  }
  co_return offsets;
}

PgEventLog::PgEventLog(storage::postgres::PgPool& pool, const core::Clock& clock, PgEventLogOptions options)
    : pool_(pool), clock_(clock), options_(std::move(options)) {}

int64_t PgEventLog::NowMs() const { return clock_.UnixMillis(); }

core::Result<void> PgEventLog::Validate(const std::vector<EventInput>& events) const {
  if (events.size() > options_.max_append_batch) return Invalid("too many events in one batch");
  for (const EventInput& e : events) {
    if (auto r = ValidateName(e.topic, "event topic"); !r) return r;
    if (e.payload.size() > options_.max_payload_bytes) return Invalid("event payload is too large");
    if (!IsText(e.key) || !IsText(e.payload)) return Invalid("event key and payload must be UTF-8 text without NUL bytes");
  }
  return {};
}

// EventLog

Async<int64_t> PgEventLog::Append(std::string topic, std::string key, std::string payload) {
  std::vector<EventInput> one;
  one.push_back(EventInput{std::move(topic), std::move(key), std::move(payload), 0});
  auto offsets = co_await AppendBatch(std::move(one));
  if (!offsets) co_return offsets.error();
  co_return offsets->front();
}

Async<std::vector<int64_t>> PgEventLog::AppendBatch(std::vector<EventInput> events) {
  if (auto v = Validate(events); !v) co_return v.error();
  if (events.empty()) co_return std::vector<int64_t>{};
  const int64_t now = NowMs();
  const auto timeout = pool_.options().query_timeout;
  const bool one_statement = StatementEnds(events).size() == 1;
  std::function<Awaitable<core::Result<std::vector<int64_t>>>(PgConnection&)> append = [&](PgConnection& conn) {
    return AppendAll(conn, timeout, events, now, one_statement);
  };
  co_return co_await pool_.With<std::vector<int64_t>>(append);
}

Async<std::vector<Event>> PgEventLog::Read(std::string topic, std::string group, size_t max_events) {
  if (auto r = ValidateName(topic, "event topic"); !r) co_return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) co_return r.error();
  max_events = std::min(max_events, options_.max_read_batch);
  if (max_events == 0) co_return std::vector<Event>{};
  // One statement: the committed offset and the events come from one snapshot.
  std::vector<PgParam> params{topic, std::move(group), std::to_string(max_events)};
  auto r = co_await pool_.Query(
      "SELECT event_offset, key, payload, created_ms FROM events WHERE topic = $1 AND event_offset > "
      "COALESCE((SELECT committed_offset FROM consumer_offsets WHERE topic = $1 AND group_name = $2), 0) "
      "ORDER BY event_offset LIMIT $3::BIGINT",
      std::move(params));
  if (!r) co_return r.error();
  co_return CollectEvents(*r, topic);
}

Async<std::vector<Event>> PgEventLog::ReadAfter(std::string topic, int64_t after_offset, size_t max_events) {
  if (auto r = ValidateName(topic, "event topic"); !r) co_return r.error();
  max_events = std::min(max_events, options_.max_read_batch);
  if (max_events == 0) co_return std::vector<Event>{};
  std::vector<PgParam> params{topic, std::to_string(after_offset), std::to_string(max_events)};
  auto r = co_await pool_.Query(
      "SELECT event_offset, key, payload, created_ms FROM events WHERE topic = $1 AND event_offset > $2::BIGINT "
      "ORDER BY event_offset LIMIT $3::BIGINT",
      std::move(params));
  if (!r) co_return r.error();
  co_return CollectEvents(*r, topic);
}

Async<void> PgEventLog::Commit(std::string topic, std::string group, int64_t offset) {
  if (auto r = ValidateName(topic, "event topic"); !r) co_return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) co_return r.error();
  if (offset < 0) co_return Invalid("offset must not be negative");
  // The end only grows, so the statement's snapshot of it is safe to check
  // against; the committed offset only grows too (GREATEST, and no write at
  // all when it would not move).
  std::vector<PgParam> params{std::move(topic), std::move(group), std::to_string(offset)};
  auto r = co_await pool_.Query(
      "WITH head AS (SELECT COALESCE((SELECT last_offset FROM topic_heads WHERE topic = $1), 0) AS end_offset), "
      "moved AS (INSERT INTO consumer_offsets AS c (topic, group_name, committed_offset) "
      "SELECT $1, $2, $3::BIGINT FROM head WHERE $3::BIGINT <= head.end_offset "
      "ON CONFLICT (topic, group_name) DO UPDATE SET committed_offset = excluded.committed_offset "
      "WHERE c.committed_offset < excluded.committed_offset) "
      "SELECT end_offset FROM head",
      std::move(params));
  if (!r) co_return r.error();
  if (r->rows() != 1 || offset > r->Int64(0, 0)) co_return Invalid("offset is beyond the end of the topic");
  co_return core::Result<void>{};
}

Async<int64_t> PgEventLog::EndOffset(std::string topic) {
  if (auto r = ValidateName(topic, "event topic"); !r) co_return r.error();
  std::vector<PgParam> params{std::move(topic)};
  auto r = co_await pool_.Query("SELECT COALESCE((SELECT last_offset FROM topic_heads WHERE topic = $1), 0)",
                                std::move(params));
  if (!r) co_return r.error();
  co_return r->Int64(0, 0);
}

Async<int64_t> PgEventLog::CommittedOffset(std::string topic, std::string group) {
  if (auto r = ValidateName(topic, "event topic"); !r) co_return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) co_return r.error();
  std::vector<PgParam> params{std::move(topic), std::move(group)};
  auto r = co_await pool_.Query(
      "SELECT COALESCE((SELECT committed_offset FROM consumer_offsets WHERE topic = $1 AND group_name = $2), 0)",
      std::move(params));
  if (!r) co_return r.error();
  co_return r->Int64(0, 0);
}

namespace {
Awaitable<core::Result<size_t>> TrimOld(storage::postgres::PgPool& pool, int64_t created_before_ms, size_t max_rows) {
  std::vector<PgParam> params{std::to_string(created_before_ms), std::to_string(max_rows)};
  auto r = co_await pool.Query(
      "DELETE FROM events WHERE ctid IN (SELECT ctid FROM events WHERE created_ms < $1 LIMIT $2)", std::move(params));
  if (!r) co_return r.error();
  co_return static_cast<size_t>(r->Affected());
}
}  // namespace

Async<size_t> PgEventLog::Trim(int64_t created_before_ms, size_t max_rows) {
  return TrimOld(pool_, created_before_ms, max_rows);
}

}  // namespace shopd::events::postgres

#include "events/sqlite/sqlite_event_log.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <utility>

namespace shopd::events::sqlite {
namespace {

using storage::sqlite::Connection;
using storage::sqlite::Transaction;
using storage::sqlite::Statement;

constexpr size_t kMaxNameBytes = 255;

core::Error Invalid(std::string message) { return core::Error::Make(core::Errc::kInvalidArgument, std::move(message)); }

core::Result<void> ValidateName(const std::string& name, const char* what) {
  if (name.empty() || name.size() > kMaxNameBytes) return Invalid(std::string(what) + " must be 1..255 bytes");
  return {};
}

core::Result<int64_t> QueryEndOffset(Connection& conn, const std::string& topic) {
  auto st = conn.Prepare("SELECT COALESCE(MAX(offset), 0) FROM events WHERE topic = ?");
  if (!st) return st.error();
  st->Bind(1, topic);
  auto row = st->Step();
  if (!row) return row.error();
  return st->ColumnInt64(0);
}

core::Result<int64_t> QueryCommitted(Connection& conn, const std::string& topic, const std::string& group) {
  auto st = conn.Prepare("SELECT offset FROM consumer_offsets WHERE topic = ? AND group_name = ?");
  if (!st) return st.error();
  st->Bind(1, topic).Bind(2, group);
  auto row = st->Step();
  if (!row) return row.error();
  return *row ? st->ColumnInt64(0) : 0;
}

}  // namespace

core::Result<std::vector<int64_t>> AppendEvents(Connection& conn, const std::vector<EventInput>& events,
                                                int64_t now_ms) {
  if (conn.InAutocommit()) {
    return core::Error::Make(core::Errc::kInternal, "internal error", "AppendEvents outside a transaction");
  }
  std::vector<int64_t> offsets;
  offsets.reserve(events.size());
  // The next offset per topic, read once per batch under the write lock.
  std::unordered_map<std::string, int64_t> end;
  for (const EventInput& e : events) {
    auto it = end.find(e.topic);
    if (it == end.end()) {
      auto last = QueryEndOffset(conn, e.topic);
      if (!last) return last.error();
      it = end.emplace(e.topic, *last).first;
    }
    const int64_t offset = ++it->second;
    auto st = conn.Prepare("INSERT INTO events (topic, offset, key, payload, created_ms) VALUES (?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->Bind(1, e.topic).Bind(2, offset).Bind(3, e.key).Bind(4, e.payload);
    st->Bind(5, e.created_ms > 0 ? e.created_ms : now_ms);
    if (auto r = st->Run(); !r) return r.error();
    offsets.push_back(offset);
  }
  return offsets;
}

SqliteEventLog::SqliteEventLog(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool,
                               const core::Clock& clock, SqliteEventLogOptions options)
    : db_(db), pool_(pool), clock_(clock), options_(std::move(options)) {}

int64_t SqliteEventLog::NowMs() const { return clock_.UnixMillis(); }

core::Result<void> SqliteEventLog::Validate(const std::vector<EventInput>& events) const {
  if (events.size() > options_.max_append_batch) return Invalid("too many events in one batch");
  for (const EventInput& e : events) {
    if (auto r = ValidateName(e.topic, "event topic"); !r) return r;
    if (e.payload.size() > options_.max_payload_bytes) return Invalid("event payload is too large");
  }
  return {};
}

core::Result<std::vector<int64_t>> SqliteEventLog::AppendBatchSync(const std::vector<EventInput>& events) {
  if (auto v = Validate(events); !v) return v.error();
  if (events.empty()) return std::vector<int64_t>{};
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::vector<int64_t>> {
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    auto offsets = AppendEvents(conn, events, NowMs());
    if (!offsets) return offsets.error();
    if (auto r = tx->Commit(); !r) return r.error();
    return offsets;
  });
}

namespace {

// The rows of one SELECT offset, key, payload, created_ms, as events.
core::Result<std::vector<Event>> CollectEvents(Statement& st, const std::string& topic) {
  std::vector<Event> out;
  for (;;) {
    auto row = st.Step();
    if (!row) return row.error();
    if (!*row) return out;
    Event e;
    e.topic = topic;
    e.offset = st.ColumnInt64(0);
    e.key = st.ColumnText(1);
    e.payload = st.ColumnText(2);
    e.created_ms = st.ColumnInt64(3);
    out.push_back(std::move(e));
  }
}

}  // namespace

core::Result<std::vector<Event>> SqliteEventLog::ReadSync(const std::string& topic, const std::string& group,
                                                         size_t max_events) {
  if (auto r = ValidateName(topic, "event topic"); !r) return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) return r.error();
  max_events = std::min(max_events, options_.max_read_batch);
  if (max_events == 0) return std::vector<Event>{};
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::vector<Event>> {
    // One statement: the committed offset and the events come from one snapshot.
    auto st = conn.Prepare(
        "SELECT offset, key, payload, created_ms FROM events WHERE topic = ?1 AND offset > "
        "COALESCE((SELECT offset FROM consumer_offsets WHERE topic = ?1 AND group_name = ?2), 0) "
        "ORDER BY offset LIMIT ?3");
    if (!st) return st.error();
    st->Bind(1, topic).Bind(2, group).Bind(3, static_cast<int64_t>(max_events));
    return CollectEvents(*st, topic);
  });
}

core::Result<std::vector<Event>> SqliteEventLog::ReadAfterSync(const std::string& topic, int64_t after_offset,
                                                              size_t max_events) {
  if (auto r = ValidateName(topic, "event topic"); !r) return r.error();
  max_events = std::min(max_events, options_.max_read_batch);
  if (max_events == 0) return std::vector<Event>{};
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::vector<Event>> {
    auto st = conn.Prepare(
        "SELECT offset, key, payload, created_ms FROM events WHERE topic = ? AND offset > ? ORDER BY offset LIMIT ?");
    if (!st) return st.error();
    st->Bind(1, topic).Bind(2, after_offset).Bind(3, static_cast<int64_t>(max_events));
    return CollectEvents(*st, topic);
  });
}

core::Result<void> SqliteEventLog::CommitSync(const std::string& topic, const std::string& group, int64_t offset) {
  if (auto r = ValidateName(topic, "event topic"); !r) return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) return r.error();
  if (offset < 0) return Invalid("offset must not be negative");
  return db_.WithConnection([&](Connection& conn) -> core::Result<void> {
    // The end only grows, so checking it outside a transaction is safe.
    auto end = QueryEndOffset(conn, topic);
    if (!end) return end.error();
    if (offset > *end) return Invalid("offset is beyond the end of the topic");
    auto st = conn.Prepare(
        "INSERT INTO consumer_offsets (topic, group_name, offset) VALUES (?, ?, ?) "
        "ON CONFLICT (topic, group_name) DO UPDATE SET offset = MAX(offset, excluded.offset)");
    if (!st) return st.error();
    st->Bind(1, topic).Bind(2, group).Bind(3, offset);
    return st->Run();
  });
}

core::Result<int64_t> SqliteEventLog::EndOffsetSync(const std::string& topic) {
  if (auto r = ValidateName(topic, "event topic"); !r) return r.error();
  return db_.WithConnection([&](Connection& conn) { return QueryEndOffset(conn, topic); });
}

core::Result<int64_t> SqliteEventLog::CommittedOffsetSync(const std::string& topic, const std::string& group) {
  if (auto r = ValidateName(topic, "event topic"); !r) return r.error();
  if (auto r = ValidateName(group, "consumer group"); !r) return r.error();
  return db_.WithConnection([&](Connection& conn) { return QueryCommitted(conn, topic, group); });
}

core::Result<size_t> SqliteEventLog::TrimSync(int64_t created_before_ms, size_t max_rows) {
  return db_.WithConnection([&](Connection& conn) -> core::Result<size_t> {
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    size_t deleted = 0;
    // Topics in order, one index probe each.
    std::string topic;
    bool first = true;
    while (deleted < max_rows) {
      auto next = conn.Prepare(first ? "SELECT topic FROM events ORDER BY topic LIMIT 1"
                                     : "SELECT topic FROM events WHERE topic > ? ORDER BY topic LIMIT 1");
      if (!next) return next.error();
      if (!first) next->Bind(1, topic);
      auto row = next->Step();
      if (!row) return row.error();
      if (!*row) break;
      topic = next->ColumnText(0);
      next->Reset();  // no read left open on the table the DELETE changes
      first = false;
      auto st = conn.Prepare(
          "DELETE FROM events WHERE topic = ?1 AND offset IN (SELECT offset FROM events WHERE topic = ?1 "
          "AND offset < (SELECT MAX(offset) FROM events WHERE topic = ?1) AND created_ms < ?2 "
          "ORDER BY offset LIMIT ?3)");
      if (!st) return st.error();
      st->Bind(1, topic).Bind(2, created_before_ms).Bind(3, static_cast<int64_t>(max_rows - deleted));
      if (auto r = st->Run(); !r) return r.error();
      deleted += static_cast<size_t>(conn.Changes());
    }
    if (auto r = tx->Commit(); !r) return r.error();
    return deleted;
  });
}

// EventLog
//
// Not coroutines: each returns the pool's awaitable directly (see
// storage/sqlite/sqlite_user_store.cc for the GCC 12 reason).

// With a writer, each write still runs its own *Sync body: inside the batch,
// WithConnection hands it the batch's connection and its transaction becomes
// a savepoint.
Async<int64_t> SqliteEventLog::Append(std::string topic, std::string key, std::string payload) {
  std::vector<EventInput> one;
  one.push_back(EventInput{std::move(topic), std::move(key), std::move(payload), 0});
  auto append_one = [this, one = std::move(one)]() -> core::Result<int64_t> {
    auto offsets = AppendBatchSync(one);
    if (!offsets) return offsets.error();
    return offsets->front();
  };
  if (writer_) return writer_->Run([append_one = std::move(append_one)](storage::sqlite::Connection&) mutable {
    return append_one();
  });
  return pool_.Run(std::move(append_one));
}

Async<std::vector<int64_t>> SqliteEventLog::AppendBatch(std::vector<EventInput> events) {
  if (writer_)
    return writer_->Run([this, events = std::move(events)](storage::sqlite::Connection&) { return AppendBatchSync(events); });
  return pool_.Run([this, events = std::move(events)] { return AppendBatchSync(events); });
}

Async<std::vector<Event>> SqliteEventLog::Read(std::string topic, std::string group, size_t max_events) {
  return pool_.Run(
      [this, topic = std::move(topic), group = std::move(group), max_events] { return ReadSync(topic, group, max_events); });
}

Async<std::vector<Event>> SqliteEventLog::ReadAfter(std::string topic, int64_t after_offset, size_t max_events) {
  return pool_.Run([this, topic = std::move(topic), after_offset, max_events] {
    return ReadAfterSync(topic, after_offset, max_events);
  });
}

Async<void> SqliteEventLog::Commit(std::string topic, std::string group, int64_t offset) {
  if (writer_)
    return writer_->Run([this, topic = std::move(topic), group = std::move(group), offset](storage::sqlite::Connection&) {
      return CommitSync(topic, group, offset);
    });
  return pool_.Run(
      [this, topic = std::move(topic), group = std::move(group), offset] { return CommitSync(topic, group, offset); });
}

Async<int64_t> SqliteEventLog::EndOffset(std::string topic) {
  return pool_.Run([this, topic = std::move(topic)] { return EndOffsetSync(topic); });
}

Async<int64_t> SqliteEventLog::CommittedOffset(std::string topic, std::string group) {
  return pool_.Run(
      [this, topic = std::move(topic), group = std::move(group)] { return CommittedOffsetSync(topic, group); });
}

}  // namespace shopd::events::sqlite

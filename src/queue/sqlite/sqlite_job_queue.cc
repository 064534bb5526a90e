#include "queue/sqlite/sqlite_job_queue.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "queue/detail/backend_rules.h"

namespace shopd::queue::sqlite {
namespace {

using storage::sqlite::Connection;
using storage::sqlite::Statement;
using storage::sqlite::Transaction;

using detail::Invalid;
using detail::kMaxEnqueueBatch;
using detail::kMaxErrorBytes;


// The error for a Complete/Fail/ExtendLease whose token no longer matches.
core::Error LeaseLost(Connection& conn, JobId id) {
  auto st = conn.Prepare("SELECT state FROM jobs WHERE id = ?");
  if (!st) return st.error();
  st->Bind(1, id);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kNotFound, "job not found", "job " + std::to_string(id));
  return core::Error::Make(core::Errc::kConflict, "job lease is no longer held",
                           "job " + std::to_string(id) + " is " + st->ColumnText(0) + " under another lease");
}

// Steps an UPDATE ... RETURNING id, payload, attempts, lease_token[, sort key]
// to its end, appending the leased jobs.
core::Result<void> CollectLeased(Statement& st, const std::string& queue,
                                 std::vector<std::pair<int64_t, LeasedJob>>& out) {
  for (;;) {
    auto row = st.Step();
    if (!row) return row.error();
    if (!*row) return {};
    LeasedJob job;
    job.id = st.ColumnInt64(0);
    job.queue = queue;
    job.payload = st.ColumnText(1);
    job.attempt = static_cast<int>(st.ColumnInt64(2));
    job.lease_token = st.ColumnText(3);
    out.emplace_back(st.ColumnInt64(4), std::move(job));
  }
}

core::Result<std::vector<LeasedJob>> LeaseJobs(Connection& conn, const std::string& queue, size_t max_jobs,
                                               int64_t lease_until_ms, int64_t now) {
  std::vector<LeasedJob> leased;
  if (max_jobs == 0) return leased;
  // A plain read first, so that idle workers polling an empty queue never
  // take the write lock.
  {
    auto st = conn.Prepare(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'ready' AND run_at_ms <= ?2) "
        "OR EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'leased' AND lease_until_ms <= ?2)");
    if (!st) return st.error();
    st->Bind(1, queue).Bind(2, now);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row || st->ColumnInt64(0) == 0) return leased;
  }

  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();
  const auto limit = static_cast<int64_t>(max_jobs);

  // A job whose lease ran out on its last attempt (its worker died, maybe
  // because of the job itself) is a dead letter, not delivered again.
  {
    auto st = conn.Prepare(
        "UPDATE jobs SET state = 'dead', run_at_ms = ?2, lease_until_ms = NULL, lease_token = NULL, "
        "last_error = 'lease expired during attempt ' || attempts "
        "WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'leased' AND lease_until_ms <= ?2 "
        "AND attempts >= max_attempts ORDER BY lease_until_ms LIMIT ?3)");
    if (!st) return st.error();
    st->Bind(1, queue).Bind(2, now).Bind(3, limit);
    if (auto r = st->Run(); !r) return r.error();
  }

  // (sort key, job): RETURNING yields rows in no particular order.
  std::vector<std::pair<int64_t, LeasedJob>> expired;
  {
    auto st = conn.Prepare(
        "UPDATE jobs SET attempts = attempts + 1, lease_until_ms = ?3, lease_token = lower(hex(randomblob(16))) "
        "WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'leased' AND lease_until_ms <= ?2 "
        "ORDER BY lease_until_ms, id LIMIT ?4) "
        "RETURNING id, payload, attempts, lease_token, id");
    if (!st) return st.error();
    st->Bind(1, queue).Bind(2, now).Bind(3, lease_until_ms).Bind(4, limit);
    if (auto r = CollectLeased(*st, queue, expired); !r) return r.error();
  }

  std::vector<std::pair<int64_t, LeasedJob>> ready;
  if (expired.size() < max_jobs) {
    auto st = conn.Prepare(
        "UPDATE jobs SET state = 'leased', attempts = attempts + 1, lease_until_ms = ?3, "
        "lease_token = lower(hex(randomblob(16))) "
        "WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'ready' AND run_at_ms <= ?2 "
        "ORDER BY run_at_ms, id LIMIT ?4) "
        "RETURNING id, payload, attempts, lease_token, run_at_ms");
    if (!st) return st.error();
    st->Bind(1, queue).Bind(2, now).Bind(3, lease_until_ms);
    st->Bind(4, static_cast<int64_t>(max_jobs - expired.size()));
    if (auto r = CollectLeased(*st, queue, ready); !r) return r.error();
  }
  if (auto r = tx->Commit(); !r) return r.error();

  auto by_key = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
  };
  std::sort(expired.begin(), expired.end(), by_key);
  std::sort(ready.begin(), ready.end(), by_key);
  leased.reserve(expired.size() + ready.size());
  for (auto& [key, job] : expired) leased.push_back(std::move(job));
  for (auto& [key, job] : ready) leased.push_back(std::move(job));
  return leased;
}

core::Result<void> CompleteJob(Connection& conn, JobId id, const std::string& token) {
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();
  std::string queue;
  {
    auto st = conn.Prepare("DELETE FROM jobs WHERE id = ? AND state = 'leased' AND lease_token = ? RETURNING queue");
    if (!st) return st.error();
    st->Bind(1, id).Bind(2, token);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return LeaseLost(conn, id);
    queue = st->ColumnText(0);
    if (auto r = st->Run(); !r) return r.error();
  }
  {
    auto st = conn.Prepare(
        "INSERT INTO job_counters (queue, completed) VALUES (?, 1) "
        "ON CONFLICT (queue) DO UPDATE SET completed = completed + 1");
    if (!st) return st.error();
    st->Bind(1, queue);
    if (auto r = st->Run(); !r) return r.error();
  }
  return tx->Commit();
}

core::Result<void> FailJob(Connection& conn, JobId id, const std::string& token, const std::string& error,
                           const RetryPolicy& retry, int64_t now) {
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();
  int64_t attempts = 0;
  int64_t max_attempts = 0;
  {
    auto st = conn.Prepare(
        "SELECT attempts, max_attempts FROM jobs WHERE id = ? AND state = 'leased' AND lease_token = ?");
    if (!st) return st.error();
    st->Bind(1, id).Bind(2, token);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return LeaseLost(conn, id);
    attempts = st->ColumnInt64(0);
    max_attempts = st->ColumnInt64(1);
  }
  const bool dead = attempts >= max_attempts;
  const int64_t run_at = dead ? now : now + BackoffMs(retry, static_cast<int>(std::min<int64_t>(attempts, 64)));
  auto st = conn.Prepare(
      "UPDATE jobs SET state = ?, run_at_ms = ?, lease_until_ms = NULL, lease_token = NULL, last_error = ? "
      "WHERE id = ?");
  if (!st) return st.error();
  st->Bind(1, dead ? "dead" : "ready").Bind(2, run_at).Bind(3, error).Bind(4, id);
  if (auto r = st->Run(); !r) return r.error();
  return tx->Commit();
}

core::Result<void> ExtendJobLease(Connection& conn, JobId id, const std::string& token, int64_t until) {
  auto st = conn.Prepare("UPDATE jobs SET lease_until_ms = ? WHERE id = ? AND state = 'leased' AND lease_token = ?");
  if (!st) return st.error();
  st->Bind(1, until).Bind(2, id).Bind(3, token);
  if (auto r = st->Run(); !r) return r.error();
  if (conn.Changes() == 0) return LeaseLost(conn, id);
  return {};
}

core::Result<QueueStats> QueryStats(Connection& conn, const std::string& queue, int64_t now) {
  // One statement, so the numbers come from one snapshot.
  auto st = conn.Prepare(
      "SELECT (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'ready' AND run_at_ms <= ?2), "
      "(SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'ready' AND run_at_ms > ?2), "
      "(SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'leased'), "
      "(SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'dead'), "
      "COALESCE((SELECT completed FROM job_counters WHERE queue = ?1), 0)");
  if (!st) return st.error();
  st->Bind(1, queue).Bind(2, now);
  auto row = st->Step();
  if (!row) return row.error();
  QueueStats stats;
  stats.ready = st->ColumnInt64(0);
  stats.delayed = st->ColumnInt64(1);
  stats.in_flight = st->ColumnInt64(2);
  stats.dead = st->ColumnInt64(3);
  stats.completed = st->ColumnInt64(4);
  return stats;
}

core::Result<std::vector<DeadJob>> QueryDeadLetters(Connection& conn, const std::string& queue, size_t limit) {
  auto st = conn.Prepare(
      "SELECT id, queue, payload, attempts, COALESCE(last_error, ''), created_ms, run_at_ms FROM jobs "
      "WHERE queue = ? AND state = 'dead' ORDER BY id LIMIT ?");
  if (!st) return st.error();
  st->Bind(1, queue).Bind(2, static_cast<int64_t>(limit));
  std::vector<DeadJob> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return out;
    DeadJob job;
    job.id = st->ColumnInt64(0);
    job.queue = st->ColumnText(1);
    job.payload = st->ColumnText(2);
    job.attempts = static_cast<int>(st->ColumnInt64(3));
    job.last_error = st->ColumnText(4);
    job.created_ms = st->ColumnInt64(5);
    job.dead_ms = st->ColumnInt64(6);
    out.push_back(std::move(job));
  }
}

core::Result<void> RetryDeadJob(Connection& conn, JobId id, int64_t now) {
  auto st = conn.Prepare("UPDATE jobs SET state = 'ready', attempts = 0, run_at_ms = ? WHERE id = ? AND state = 'dead'");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, id);
  if (auto r = st->Run(); !r) return r.error();
  if (conn.Changes() == 0) {
    return core::Error::Make(core::Errc::kNotFound, "no dead job with this id", "job " + std::to_string(id));
  }
  return {};
}

}  // namespace

SqliteJobQueue::SqliteJobQueue(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool,
                               const core::Clock& clock, JobQueueOptions options)
    : db_(db), pool_(pool), clock_(clock), options_(std::move(options)) {}

int64_t SqliteJobQueue::NowMs() const { return clock_.UnixMillis(); }

core::Result<JobId> SqliteJobQueue::Insert(Connection& conn, const EnqueueRequest& r, int64_t now_ms) {
  const int max_attempts = detail::MaxAttempts(r, options_);
  {
    auto st = conn.Prepare(
        "INSERT INTO jobs (queue, payload, state, attempts, max_attempts, run_at_ms, dedupe_key, created_ms) "
        "VALUES (?, ?, 'ready', 0, ?, ?, ?, ?) "
        "ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id");
    if (!st) return st.error();
    st->Bind(1, r.queue).Bind(2, r.payload).Bind(3, int64_t{max_attempts}).Bind(4, now_ms + r.delay_ms);
    if (r.dedupe_key) {
      st->Bind(5, *r.dedupe_key);
    } else {
      st->BindNull(5);
    }
    st->Bind(6, now_ms);
    auto row = st->Step();
    if (!row) return row.error();
    if (*row) {
      JobId id = st->ColumnInt64(0);
      if (auto done = st->Run(); !done) return done.error();
      return id;
    }
  }
  // A duplicate: the caller's transaction keeps the existing job in place.
  auto st = conn.Prepare("SELECT id FROM jobs WHERE queue = ? AND dedupe_key = ?");
  if (!st) return st.error();
  st->Bind(1, r.queue).Bind(2, r.dedupe_key.value_or(""));
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kInternal, "internal error", "dedupe conflict without a row");
  return st->ColumnInt64(0);
}

core::Result<JobId> SqliteJobQueue::EnqueueInTransaction(Connection& conn, const EnqueueRequest& request) {
  if (auto v = detail::ValidateEnqueue(request, options_); !v) return v.error();
  if (conn.InAutocommit()) {
    return core::Error::Make(core::Errc::kInternal, "internal error", "EnqueueInTransaction outside a transaction");
  }
  return Insert(conn, request, NowMs());
}

core::Result<JobId> SqliteJobQueue::EnqueueSync(const EnqueueRequest& request) {
  if (auto v = detail::ValidateEnqueue(request, options_); !v) return v.error();
  return db_.WithConnection([&](Connection& conn) -> core::Result<JobId> {
    const int64_t now = NowMs();
    // Without a key the INSERT is one atomic statement; with one, the lookup
    // of a duplicate must see the row that made the insert a no-op.
    if (!request.dedupe_key) return Insert(conn, request, now);
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    auto id = Insert(conn, request, now);
    if (!id) return id.error();
    if (auto r = tx->Commit(); !r) return r.error();
    return *id;
  });
}

core::Result<std::vector<JobId>> SqliteJobQueue::EnqueueBatchSync(const std::vector<EnqueueRequest>& requests) {
  if (requests.size() > kMaxEnqueueBatch) return Invalid("at most 10000 jobs per batch");
  for (const EnqueueRequest& r : requests) {
    if (auto v = detail::ValidateEnqueue(r, options_); !v) return v.error();
  }
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::vector<JobId>> {
    std::vector<JobId> ids;
    ids.reserve(requests.size());
    if (requests.empty()) return ids;
    const int64_t now = NowMs();
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    for (const EnqueueRequest& r : requests) {
      auto id = Insert(conn, r, now);
      if (!id) return id.error();
      ids.push_back(*id);
    }
    if (auto r = tx->Commit(); !r) return r.error();
    return ids;
  });
}

core::Result<std::vector<LeasedJob>> SqliteJobQueue::LeaseSync(const std::string& queue, size_t max_jobs,
                                                               int64_t lease_ms) {
  if (queue.empty()) return Invalid("queue name must not be empty");
  if (auto v = detail::ValidateLease(lease_ms); !v) return v.error();
  max_jobs = std::min(max_jobs, options_.max_lease_batch);
  return db_.WithConnection([&](Connection& conn) {
    const int64_t now = NowMs();
    return LeaseJobs(conn, queue, max_jobs, now + lease_ms, now);
  });
}

core::Result<void> SqliteJobQueue::CompleteSync(JobId id, const std::string& lease_token) {
  return db_.WithConnection([&](Connection& conn) { return CompleteJob(conn, id, lease_token); });
}

core::Result<void> SqliteJobQueue::FailSync(JobId id, const std::string& lease_token, const std::string& error) {
  const std::string text = error.substr(0, kMaxErrorBytes);
  return db_.WithConnection(
      [&](Connection& conn) { return FailJob(conn, id, lease_token, text, options_.retry, NowMs()); });
}

core::Result<void> SqliteJobQueue::ExtendLeaseSync(JobId id, const std::string& lease_token, int64_t lease_ms) {
  if (auto v = detail::ValidateLease(lease_ms); !v) return v.error();
  return db_.WithConnection(
      [&](Connection& conn) { return ExtendJobLease(conn, id, lease_token, NowMs() + lease_ms); });
}

core::Result<std::optional<int64_t>> SqliteJobQueue::NextDueInMsSync(const std::string& queue) {
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::optional<int64_t>> {
    // Each inner minimum comes from its partial index (jobs_ready, jobs_leased);
    // the outer aggregate skips the one that is NULL.
    auto st = conn.Prepare(
        "SELECT min(due) FROM ("
        "SELECT min(run_at_ms) AS due FROM jobs WHERE queue = ?1 AND state = 'ready' "
        "UNION ALL SELECT min(lease_until_ms) FROM jobs WHERE queue = ?1 AND state = 'leased')");
    if (!st) return st.error();
    st->Bind(1, queue);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row || st->ColumnIsNull(0)) return std::optional<int64_t>{};
    const int64_t due = st->ColumnInt64(0);
    return std::optional<int64_t>{std::max<int64_t>(0, due - NowMs())};
  });
}

core::Result<QueueStats> SqliteJobQueue::StatsSync(const std::string& queue) {
  return db_.WithConnection([&](Connection& conn) { return QueryStats(conn, queue, NowMs()); });
}

core::Result<std::vector<std::pair<std::string, QueueStats>>> SqliteJobQueue::AllStatsSync() {
  return db_.WithConnection(
      [&](Connection& conn) -> core::Result<std::vector<std::pair<std::string, QueueStats>>> {
        std::vector<std::string> names;
        {
          auto st = conn.Prepare("SELECT queue FROM job_counters UNION SELECT DISTINCT queue FROM jobs ORDER BY 1");
          if (!st) return st.error();
          for (;;) {
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) break;
            names.push_back(st->ColumnText(0));
          }
        }
        std::vector<std::pair<std::string, QueueStats>> out;
        const int64_t now = NowMs();
        for (std::string& name : names) {
          auto stats = QueryStats(conn, name, now);
          if (!stats) return stats.error();
          out.emplace_back(std::move(name), *stats);
        }
        return out;
      });
}

core::Result<std::vector<DeadJob>> SqliteJobQueue::DeadLettersSync(const std::string& queue, size_t limit) {
  limit = std::min(limit, options_.max_dead_letters_batch);
  return db_.WithConnection([&](Connection& conn) { return QueryDeadLetters(conn, queue, limit); });
}

core::Result<void> SqliteJobQueue::RetryDeadSync(JobId id) {
  return db_.WithConnection([&](Connection& conn) { return RetryDeadJob(conn, id, NowMs()); });
}

// JobQueue
//
// Not coroutines: each returns the pool's awaitable directly (see
// storage/sqlite/sqlite_user_store.cc for the GCC 12 reason).

// With a writer, each call still runs its own *Sync body: inside the batch,
// WithConnection hands it the batch's connection and its transaction becomes
// a savepoint.
Async<JobId> SqliteJobQueue::Enqueue(EnqueueRequest request) {
  if (writer_) return writer_->Run([this, request = std::move(request)](Connection&) { return EnqueueSync(request); });
  return pool_.Run([this, request = std::move(request)] { return EnqueueSync(request); });
}

Async<std::vector<JobId>> SqliteJobQueue::EnqueueBatch(std::vector<EnqueueRequest> requests) {
  if (writer_)
    return writer_->Run([this, requests = std::move(requests)](Connection&) { return EnqueueBatchSync(requests); });
  return pool_.Run([this, requests = std::move(requests)] { return EnqueueBatchSync(requests); });
}

Async<std::vector<LeasedJob>> SqliteJobQueue::Lease(std::string queue, size_t max_jobs, int64_t lease_ms) {
  if (writer_)
    return writer_->Run([this, queue = std::move(queue), max_jobs, lease_ms](Connection&) {
      return LeaseSync(queue, max_jobs, lease_ms);
    });
  return pool_.Run([this, queue = std::move(queue), max_jobs, lease_ms] { return LeaseSync(queue, max_jobs, lease_ms); });
}

Async<void> SqliteJobQueue::Complete(JobId id, std::string lease_token) {
  if (writer_)
    return writer_->Run([this, id, lease_token = std::move(lease_token)](Connection&) {
      return CompleteSync(id, lease_token);
    });
  return pool_.Run([this, id, lease_token = std::move(lease_token)] { return CompleteSync(id, lease_token); });
}

Async<void> SqliteJobQueue::Fail(JobId id, std::string lease_token, std::string error) {
  if (writer_)
    return writer_->Run([this, id, lease_token = std::move(lease_token), error = std::move(error)](Connection&) {
      return FailSync(id, lease_token, error);
    });
  return pool_.Run([this, id, lease_token = std::move(lease_token), error = std::move(error)] {
    return FailSync(id, lease_token, error);
  });
}

Async<void> SqliteJobQueue::ExtendLease(JobId id, std::string lease_token, int64_t lease_ms) {
  if (writer_)
    return writer_->Run([this, id, lease_token = std::move(lease_token), lease_ms](Connection&) {
      return ExtendLeaseSync(id, lease_token, lease_ms);
    });
  return pool_.Run(
      [this, id, lease_token = std::move(lease_token), lease_ms] { return ExtendLeaseSync(id, lease_token, lease_ms); });
}

Async<std::optional<int64_t>> SqliteJobQueue::NextDueInMs(std::string queue) {
  return pool_.Run([this, queue = std::move(queue)] { return NextDueInMsSync(queue); });
}

Async<QueueStats> SqliteJobQueue::Stats(std::string queue) {
  return pool_.Run([this, queue = std::move(queue)] { return StatsSync(queue); });
}

Async<std::vector<DeadJob>> SqliteJobQueue::DeadLetters(std::string queue, size_t limit) {
  return pool_.Run([this, queue = std::move(queue), limit] { return DeadLettersSync(queue, limit); });
}

Async<void> SqliteJobQueue::RetryDead(JobId id) {
  return pool_.Run([this, id] { return RetryDeadSync(id); });
}

}  // namespace shopd::queue::sqlite

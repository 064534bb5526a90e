#include "queue/postgres/pg_job_queue.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "queue/detail/backend_rules.h"
#include "storage/postgres/pg_text.h"

namespace shopd::queue::postgres {
namespace {

using storage::postgres::PgConnection;
using storage::postgres::PgParam;
using storage::postgres::PgResult;
using storage::postgres::ArrayLiteral;
using storage::postgres::IsText;
using storage::postgres::Run;
using storage::postgres::ToText;

template <class T>
using Awaitable = boost::asio::awaitable<T>;

using detail::Invalid;
using detail::kMaxEnqueueBatch;
using detail::kMaxErrorBytes;
// Rounds of insert-or-look-up for dedupe keys: a duplicate's job may be
// completed (deleted) between the INSERT that met it and the SELECT that reads
// its id, and the key is then free again.
constexpr int kDedupeRounds = 3;

core::Error JobNotFound(JobId id) {
  return core::Error::Make(core::Errc::kNotFound, "job not found", "job " + std::to_string(id));
}

// The error for a Complete/Fail/ExtendLease whose token does not match the
// job's current lease; `state` is the job's as the statement saw it.
core::Error LeaseLost(JobId id, const std::string& state) {
  return core::Error::Make(core::Errc::kConflict, "job lease is no longer held",
                           "job " + std::to_string(id) + " is " + state + " under another lease");
}

core::Error DedupeRace() {
  core::Error e = core::Error::Make(core::Errc::kUnavailable, "job queue is busy, retry shortly",
                                    "dedupe key kept changing hands while enqueueing");
  e.retry_after_s = 1;
  return e;
}

// Reads the row of a token-guarded statement that ends in
// `SELECT (SELECT count(*) FROM <changed>), (SELECT state FROM jobs WHERE id = $1)`:
// the state is from before the change, and NULL when there is no such job.
core::Result<void> GuardedOutcome(const PgResult& r, JobId id) {
  if (r.rows() == 1 && r.Int64(0, 0) > 0) return {};
  if (r.rows() != 1 || r.IsNull(0, 1)) return JobNotFound(id);
  return LeaseLost(id, r.Text(0, 1));
}


// One statement: the expired leases of jobs on their last attempt become dead
// letters (their worker died, maybe because of the job itself); other expired
// leases are taken over with the next attempt, ahead of ready jobs due by now,
// oldest first, up to $4 in all. SKIP LOCKED passes over rows that another
// leaser (or a Complete) holds. RETURNING has no order: the outer SELECT sorts.
constexpr const char* kLeaseSql =
    "WITH expired_last AS ("
    " SELECT id FROM jobs WHERE queue = $1 AND state = 'leased' AND lease_until_ms <= $2::BIGINT"
    " AND attempts >= max_attempts ORDER BY lease_until_ms, id LIMIT $4::BIGINT FOR UPDATE SKIP LOCKED), "
    "buried AS ("
    " UPDATE jobs SET state = 'dead', run_at_ms = $2::BIGINT, lease_until_ms = NULL, lease_token = NULL,"
    " last_error = 'lease expired during attempt ' || jobs.attempts"
    " FROM expired_last WHERE jobs.id = expired_last.id), "
    "expired AS ("
    " SELECT id, 0 AS pass, lease_until_ms AS due FROM jobs WHERE queue = $1 AND state = 'leased'"
    " AND lease_until_ms <= $2::BIGINT AND attempts < max_attempts"
    " ORDER BY lease_until_ms, id LIMIT $4::BIGINT FOR UPDATE SKIP LOCKED), "
    "ready AS ("
    " SELECT id, 1 AS pass, run_at_ms AS due FROM jobs WHERE queue = $1 AND state = 'ready'"
    " AND run_at_ms <= $2::BIGINT ORDER BY run_at_ms, id"
    " LIMIT $4::BIGINT - (SELECT count(*) FROM expired) FOR UPDATE SKIP LOCKED), "
    "claimed AS (SELECT id, pass, due FROM expired UNION ALL SELECT id, pass, due FROM ready), "
    "leased AS ("
    " UPDATE jobs SET state = 'leased', attempts = jobs.attempts + 1, lease_until_ms = $3::BIGINT,"
    " lease_token = gen_random_uuid()::TEXT FROM claimed WHERE jobs.id = claimed.id"
    " RETURNING jobs.id, jobs.payload, jobs.attempts, jobs.lease_token, claimed.pass, claimed.due) "
    "SELECT id, payload, attempts, lease_token FROM leased ORDER BY pass, due, id";

// Inserts ready jobs; a row whose (queue, dedupe_key) exists is skipped.
constexpr const char* kInsertSql =
    "INSERT INTO jobs (queue, payload, state, max_attempts, run_at_ms, dedupe_key, created_ms) "
    "VALUES ($1, $2, 'ready', $3::INT, $4::BIGINT, $5, $6::BIGINT) "
    "ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id";
constexpr const char* kInsertBatchSql =
    "INSERT INTO jobs (id, queue, payload, state, max_attempts, run_at_ms, dedupe_key, created_ms) "
    "OVERRIDING SYSTEM VALUE "
    "SELECT t.id, t.queue, t.payload, 'ready', t.max_attempts, t.run_at_ms, t.dedupe_key, $7::BIGINT "
    "FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::INT[], $5::BIGINT[], $6::TEXT[]) "
    "AS t(id, queue, payload, max_attempts, run_at_ms, dedupe_key) "
    "ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id";
constexpr const char* kFindDedupedSql =
    "SELECT j.queue, j.dedupe_key, j.id FROM jobs j "
    "JOIN unnest($1::TEXT[], $2::TEXT[]) AS k(queue, dedupe_key) "
    "ON j.queue = k.queue AND j.dedupe_key = k.dedupe_key WHERE j.dedupe_key IS NOT NULL";

// The rows of one EnqueueBatch, validated, with their max_attempts resolved.
struct BatchRow {
  const EnqueueRequest* request;
  int max_attempts;
  JobId id = 0;       // the id it gets when inserted (allocated up front, in request order)
  JobId result = 0;   // its job: the inserted one or the existing duplicate; 0 until known
};

using DedupeKey = std::pair<std::string, std::string>;  // (queue, dedupe_key)

Awaitable<core::Error> Abort(PgConnection& conn, std::chrono::milliseconds timeout, core::Error error) {
  (void)co_await Run(conn, timeout, "ROLLBACK");
  co_return error;
}

// `rows` holds one row per distinct (queue, dedupe_key); the transaction
// makes the batch all or nothing.
Awaitable<core::Result<void>> InsertBatch(PgConnection& conn, std::chrono::milliseconds timeout,
                                          std::vector<BatchRow>& rows, int64_t now) {
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  // Ids up front: the INSERT's RETURNING then tells which rows went in, and
  // ids rise in request order, the order Lease hands out jobs due together.
  std::vector<PgParam> count{std::to_string(rows.size())};
  auto allocated = co_await Run(conn, timeout,
                                "SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, $1::INT)",
                                std::move(count));
  if (!allocated) co_return co_await Abort(conn, timeout, allocated.error());
  if (allocated->rows() != static_cast<int>(rows.size()))
    co_return co_await Abort(conn, timeout,
                             core::Error::Make(core::Errc::kInternal, "internal error", "id allocation came up short"));
  std::vector<JobId> ids;
  ids.reserve(rows.size());
  for (int i = 0; i < allocated->rows(); ++i) ids.push_back(allocated->Int64(i, 0));
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < rows.size(); ++i) rows[i].id = ids[i];

  // Inserted in dedupe-key order, so that concurrent batches sharing keys
  // meet them in the same order and wait for each other instead of deadlocking.
  std::vector<BatchRow*> pending;
  pending.reserve(rows.size());
  for (BatchRow& row : rows) pending.push_back(&row);
  std::sort(pending.begin(), pending.end(), [](const BatchRow* a, const BatchRow* b) {
    return std::tie(a->request->queue, a->request->dedupe_key) < std::tie(b->request->queue, b->request->dedupe_key);
  });

  for (int round = 0; round < kDedupeRounds && !pending.empty(); ++round) {
    ArrayLiteral id, queue, payload, max_attempts, run_at, dedupe_key;
    for (const BatchRow* row : pending) {
      id.Add(row->id);
      queue.Add(std::string_view(row->request->queue));
      payload.Add(std::string_view(row->request->payload));
      max_attempts.Add(int64_t{row->max_attempts});
      run_at.Add(now + row->request->delay_ms);
      dedupe_key.Add(row->request->dedupe_key);
    }
    std::vector<PgParam> insert{id.Take(),     queue.Take(),      payload.Take(),     max_attempts.Take(),
                                run_at.Take(), dedupe_key.Take(), std::to_string(now)};
    auto inserted = co_await Run(conn, timeout, kInsertBatchSql, std::move(insert));
    if (!inserted) co_return co_await Abort(conn, timeout, inserted.error());
    std::set<JobId> went_in;
    for (int i = 0; i < inserted->rows(); ++i) went_in.insert(inserted->Int64(i, 0));
    std::erase_if(pending, [&](BatchRow* row) {
      if (!went_in.contains(row->id)) return false;
      row->result = row->id;
      return true;
    });
    if (pending.empty()) break;

    // What is left met an existing job with its key.
    ArrayLiteral key_queue, key;
    for (const BatchRow* row : pending) {
      key_queue.Add(std::string_view(row->request->queue));
      key.Add(row->request->dedupe_key);
    }
    std::vector<PgParam> keys{key_queue.Take(), key.Take()};
    auto found = co_await Run(conn, timeout, kFindDedupedSql, std::move(keys));
    if (!found) co_return co_await Abort(conn, timeout, found.error());
    std::map<DedupeKey, JobId> existing;
    for (int i = 0; i < found->rows(); ++i) existing[{found->Text(i, 0), found->Text(i, 1)}] = found->Int64(i, 2);
    std::erase_if(pending, [&](BatchRow* row) {
      auto it = existing.find({row->request->queue, row->request->dedupe_key.value_or("")});
      if (it == existing.end()) return false;
      row->result = it->second;
      return true;
    });
  }
  if (!pending.empty()) co_return co_await Abort(conn, timeout, DedupeRace());
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return core::Result<void>{};
}

}  // namespace

PgJobQueue::PgJobQueue(storage::postgres::PgPool& pool, const core::Clock& clock, JobQueueOptions options)
    : pool_(pool), clock_(clock), options_(std::move(options)) {}

int64_t PgJobQueue::NowMs() const { return clock_.UnixMillis(); }

core::Result<void> PgJobQueue::Validate(const EnqueueRequest& r) const {
  if (auto v = detail::ValidateEnqueue(r, options_); !v) return v;
  if (!IsText(r.queue) || !IsText(r.payload) || (r.dedupe_key && !IsText(*r.dedupe_key))) {
    return Invalid("queue name, payload and dedupe_key must be UTF-8 text without NUL bytes");
  }
  return {};
}

// JobQueue

Async<JobId> PgJobQueue::Enqueue(EnqueueRequest request) {
  if (auto v = Validate(request); !v) co_return v.error();
  const int64_t now = NowMs();
  for (int round = 0; round < kDedupeRounds; ++round) {
    // (Parameter lists are named locals throughout: GCC 12 cannot place a
    // braced list's array in a coroutine frame.)
    std::vector<PgParam> row{request.queue,
                             request.payload,
                             std::to_string(detail::MaxAttempts(request, options_)),
                             std::to_string(now + request.delay_ms),
                             request.dedupe_key,
                             std::to_string(now)};
    auto inserted = co_await pool_.Query(kInsertSql, std::move(row));
    if (!inserted) co_return inserted.error();
    if (inserted->rows() == 1) co_return inserted->Int64(0, 0);
    // A duplicate. A statement of its own: it sees the job that the INSERT
    // may have waited for, which the INSERT's own snapshot predates.
    std::vector<PgParam> key{request.queue, request.dedupe_key};
    auto existing = co_await pool_.Query("SELECT id FROM jobs WHERE queue = $1 AND dedupe_key = $2", std::move(key));
    if (!existing) co_return existing.error();
    if (existing->rows() == 1) co_return existing->Int64(0, 0);
  }
  co_return DedupeRace();
}

Async<std::vector<JobId>> PgJobQueue::EnqueueBatch(std::vector<EnqueueRequest> requests) {
  if (requests.size() > kMaxEnqueueBatch) co_return Invalid("at most 10000 jobs per batch");
  for (const EnqueueRequest& r : requests) {
    if (auto v = Validate(r); !v) co_return v.error();
  }
  std::vector<JobId> ids(requests.size(), 0);
  if (requests.empty()) co_return ids;
  // Later requests with a (queue, dedupe_key) seen earlier in the batch get
  // the earlier one's job; `first[i]` is the row that speaks for request i.
  std::vector<BatchRow> rows;
  std::vector<size_t> first(requests.size());
  std::map<DedupeKey, size_t> seen;
  for (size_t i = 0; i < requests.size(); ++i) {
    const EnqueueRequest& r = requests[i];
    if (r.dedupe_key) {
      auto [it, fresh] = seen.try_emplace({r.queue, *r.dedupe_key}, rows.size());
      if (!fresh) {
        first[i] = it->second;
        continue;
      }
    }
    first[i] = rows.size();
    rows.push_back(BatchRow{.request = &r, .max_attempts = detail::MaxAttempts(r, options_)});
  }
  const int64_t now = NowMs();
  const auto timeout = pool_.options().query_timeout;
  std::function<Awaitable<core::Result<void>>(PgConnection&)> insert = [&](PgConnection& conn) {
    return InsertBatch(conn, timeout, rows, now);
  };
  if (auto r = co_await pool_.With<void>(insert); !r) co_return r.error();
  for (size_t i = 0; i < requests.size(); ++i) ids[i] = rows[first[i]].result;
  co_return ids;
}

Async<std::vector<LeasedJob>> PgJobQueue::Lease(std::string queue, size_t max_jobs, int64_t lease_ms) {
  if (queue.empty()) co_return Invalid("queue name must not be empty");
  if (!IsText(queue)) co_return Invalid("queue name must be UTF-8 text without NUL bytes");
  if (auto v = detail::ValidateLease(lease_ms); !v) co_return v.error();
  max_jobs = std::min(max_jobs, options_.max_lease_batch);
  std::vector<LeasedJob> leased;
  if (max_jobs == 0) co_return leased;
  const int64_t now = NowMs();
  std::vector<PgParam> params{queue, std::to_string(now), std::to_string(now + lease_ms), std::to_string(max_jobs)};
  auto r = co_await pool_.Query(kLeaseSql, std::move(params));
  if (!r) co_return r.error();
  leased.reserve(static_cast<size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    LeasedJob job;
    job.id = r->Int64(i, 0);
    job.queue = queue;
    job.payload = r->Text(i, 1);
    job.attempt = static_cast<int>(r->Int64(i, 2));
    job.lease_token = r->Text(i, 3);
    leased.push_back(std::move(job));
  }
  co_return leased;
}

Async<void> PgJobQueue::Complete(JobId id, std::string lease_token) {
  // Tokens are UUIDs: one that is not text cannot match, and "" never does.
  if (!IsText(lease_token)) lease_token.clear();
  std::vector<PgParam> params{std::to_string(id), std::move(lease_token)};
  auto r = co_await pool_.Query(
      "WITH done AS (DELETE FROM jobs WHERE id = $1::BIGINT AND state = 'leased' AND lease_token = $2 "
      "RETURNING id, queue), "
      "counted AS (INSERT INTO job_counters (queue, shard, completed) SELECT queue, id % 16, 1 FROM done "
      "ON CONFLICT (queue, shard) DO UPDATE SET completed = job_counters.completed + 1) "
      "SELECT (SELECT count(*) FROM done), (SELECT state FROM jobs WHERE id = $1::BIGINT)",
      std::move(params));
  if (!r) co_return r.error();
  co_return GuardedOutcome(*r, id);
}

Async<void> PgJobQueue::Fail(JobId id, std::string lease_token, std::string error) {
  if (!IsText(lease_token)) lease_token.clear();
  std::vector<PgParam> lookup{std::to_string(id), lease_token};
  auto found = co_await pool_.Query(
      "SELECT state, COALESCE(state = 'leased' AND lease_token = $2, false), attempts, max_attempts "
      "FROM jobs WHERE id = $1::BIGINT",
      std::move(lookup));
  if (!found) co_return found.error();
  if (found->rows() == 0) co_return JobNotFound(id);
  if (!found->Bool(0, 1)) co_return LeaseLost(id, found->Text(0, 0));
  const int64_t attempts = found->Int64(0, 2);
  const bool dead = attempts >= found->Int64(0, 3);
  const int64_t now = NowMs();
  const int64_t run_at =
      dead ? now : now + BackoffMs(options_.retry, static_cast<int>(std::min<int64_t>(attempts, 64)));
  // The token guards the update: every Lease issues a new one, so while it
  // matches, the attempts read above are still this lease's.
  std::vector<PgParam> update{std::to_string(id), std::move(lease_token), std::string(dead ? "dead" : "ready"),
                              std::to_string(run_at), ToText(error, kMaxErrorBytes)};
  auto r = co_await pool_.Query(
      "WITH failed AS (UPDATE jobs SET state = $3, run_at_ms = $4::BIGINT, lease_until_ms = NULL, "
      "lease_token = NULL, last_error = $5 WHERE id = $1::BIGINT AND state = 'leased' AND lease_token = $2 "
      "RETURNING id) "
      "SELECT (SELECT count(*) FROM failed), (SELECT state FROM jobs WHERE id = $1::BIGINT)",
      std::move(update));
  if (!r) co_return r.error();
  co_return GuardedOutcome(*r, id);
}

Async<void> PgJobQueue::ExtendLease(JobId id, std::string lease_token, int64_t lease_ms) {
  if (auto v = detail::ValidateLease(lease_ms); !v) co_return v.error();
  if (!IsText(lease_token)) lease_token.clear();
  std::vector<PgParam> params{std::to_string(id), std::move(lease_token), std::to_string(NowMs() + lease_ms)};
  auto r = co_await pool_.Query(
      "WITH extended AS (UPDATE jobs SET lease_until_ms = $3::BIGINT "
      "WHERE id = $1::BIGINT AND state = 'leased' AND lease_token = $2 RETURNING id) "
      "SELECT (SELECT count(*) FROM extended), (SELECT state FROM jobs WHERE id = $1::BIGINT)",
      std::move(params));
  if (!r) co_return r.error();
  co_return GuardedOutcome(*r, id);
}

Async<std::optional<int64_t>> PgJobQueue::NextDueInMs(std::string queue) {
  if (!IsText(queue)) co_return Invalid("queue name must be UTF-8 text without NUL bytes");
  // Each minimum comes from its partial index (jobs_ready, jobs_leased);
  // LEAST skips the one that is NULL.
  std::vector<PgParam> params{std::move(queue)};
  auto r = co_await pool_.Query(
      "SELECT LEAST((SELECT min(run_at_ms) FROM jobs WHERE queue = $1 AND state = 'ready'), "
      "(SELECT min(lease_until_ms) FROM jobs WHERE queue = $1 AND state = 'leased'))",
      std::move(params));
  if (!r) co_return r.error();
  if (r->rows() != 1 || r->IsNull(0, 0)) co_return std::optional<int64_t>{};
  co_return std::optional<int64_t>{std::max<int64_t>(0, r->Int64(0, 0) - NowMs())};
}

Async<QueueStats> PgJobQueue::Stats(std::string queue) {
  if (!IsText(queue)) co_return Invalid("queue name must be UTF-8 text without NUL bytes");
  // One statement, so the numbers come from one snapshot.
  std::vector<PgParam> params{std::move(queue), std::to_string(NowMs())};
  auto r = co_await pool_.Query(
      "SELECT (SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'ready' AND run_at_ms <= $2::BIGINT), "
      "(SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'ready' AND run_at_ms > $2::BIGINT), "
      "(SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'leased'), "
      "(SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'dead'), "
      "(SELECT COALESCE(sum(completed), 0) FROM job_counters WHERE queue = $1)",
      std::move(params));
  if (!r) co_return r.error();
  QueueStats stats;
  stats.ready = r->Int64(0, 0);
  stats.delayed = r->Int64(0, 1);
  stats.in_flight = r->Int64(0, 2);
  stats.dead = r->Int64(0, 3);
  stats.completed = r->Int64(0, 4);
  co_return stats;
}

Async<std::vector<std::string>> PgJobQueue::QueueNames() {
  auto r = co_await pool_.Query("SELECT queue FROM jobs UNION SELECT queue FROM job_counters ORDER BY 1", {});
  if (!r) co_return r.error();
  std::vector<std::string> names;
  for (int i = 0; i < r->rows(); ++i) names.push_back(r->Text(i, 0));
  co_return names;
}

Async<std::vector<DeadJob>> PgJobQueue::DeadLetters(std::string queue, size_t limit) {
  if (!IsText(queue)) co_return Invalid("queue name must be UTF-8 text without NUL bytes");
  limit = std::min(limit, options_.max_dead_letters_batch);
  std::vector<PgParam> params{std::move(queue), std::to_string(limit)};
  auto r = co_await pool_.Query(
      "SELECT id, queue, payload, attempts, COALESCE(last_error, ''), created_ms, run_at_ms FROM jobs "
      "WHERE queue = $1 AND state = 'dead' ORDER BY id LIMIT $2::BIGINT",
      std::move(params));
  if (!r) co_return r.error();
  std::vector<DeadJob> out;
  out.reserve(static_cast<size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    DeadJob job;
    job.id = r->Int64(i, 0);
    job.queue = r->Text(i, 1);
    job.payload = r->Text(i, 2);
    job.attempts = static_cast<int>(r->Int64(i, 3));
    job.last_error = r->Text(i, 4);
    job.created_ms = r->Int64(i, 5);
    job.dead_ms = r->Int64(i, 6);
    out.push_back(std::move(job));
  }
  co_return out;
}

Async<void> PgJobQueue::RetryDead(JobId id) {
  std::vector<PgParam> params{std::to_string(NowMs()), std::to_string(id)};
  auto r = co_await pool_.Query(
      "UPDATE jobs SET state = 'ready', attempts = 0, run_at_ms = $1::BIGINT WHERE id = $2::BIGINT AND state = 'dead'",
      std::move(params));
  if (!r) co_return r.error();
  if (r->Affected() == 0)
    co_return core::Error::Make(core::Errc::kNotFound, "no dead job with this id", "job " + std::to_string(id));
  co_return core::Result<void>{};
}

}  // namespace shopd::queue::postgres

// queue: forward declarations, so headers that only pass a queue around (app
// wiring, services) stay light. Depends on nothing.
#pragma once

#include <cstdint>

namespace shopd::queue {
using JobId = int64_t;
struct EnqueueRequest;
struct LeasedJob;
struct QueueStats;
struct DeadJob;
struct RetryPolicy;
struct JobQueueOptions;
class JobQueue;
struct JobWorkerOptions;
class JobWorker;

namespace sqlite {
class SqliteJobQueue;
}  // namespace sqlite
namespace postgres {
class PgJobQueue;
}  // namespace postgres
}  // namespace shopd::queue

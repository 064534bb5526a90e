// events: the event log interface — append-only topics read by consumer
// groups. Depends on core.
//
// Every topic is an ordered sequence of events with offsets 1, 2, 3, ...
// (0 means "none"). A consumer group reads the events after its committed
// offset and commits the last one it has processed: delivery is at least once,
// since events read but not committed (the consumer crashed) are read again.
// One reader per (topic, group) at a time; groups are independent of each
// other. Producers inside a database transaction write to the outbox instead
// (storage/sqlite/sqlite_outbox.h), and a relay appends here.
//
// Configuration picks the backend (embedded: events/sqlite/, scale-out: Kafka).
//
//   auto offset = co_await log.Append("order.created", order_id, payload);
//   auto batch = co_await log.Read("order.created", "saga", 100);
//   for (const Event& e : *batch) Handle(e);
//   if (!batch->empty()) co_await log.Commit("order.created", "saga", batch->back().offset);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "events/fwd.h"

namespace shopd::events {

template <class T>
using Async = boost::asio::awaitable<core::Result<T>>;

struct EventInput {
  std::string topic{};    // 1..255 bytes
  std::string key{};      // e.g. the order id; a partition key in scale-out backends
  std::string payload{};  // opaque (JSON by convention)
  int64_t created_ms = 0;  // unix ms when the fact happened; 0: now
};

struct Event {
  std::string topic;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  int64_t created_ms = 0;  // unix ms
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends one event and returns its offset. kInvalidArgument for a bad topic
  // or an oversize payload.
  virtual Async<int64_t> Append(std::string topic, std::string key, std::string payload) = 0;
  // Appends all or none, in order; topics may differ. Returns each event's
  // offset, in input order.
  virtual Async<std::vector<int64_t>> AppendBatch(std::vector<EventInput> events) = 0;

  // Up to max_events (capped by the backend) events after the group's
  // committed offset, in offset order. Reading moves nothing: until Commit,
  // the same events are returned again.
  virtual Async<std::vector<Event>> Read(std::string topic, std::string group, size_t max_events) = 0;
  // Up to max_events events with offsets after `after_offset`, in offset
  // order, for no group: a broadcast read (every process sees every event,
  // each keeping its own position, e.g. to invalidate its own cache).
  virtual Async<std::vector<Event>> ReadAfter(std::string topic, int64_t after_offset, size_t max_events) = 0;
  // Marks every event up to and including `offset` as processed by the group.
  // Committing an offset at or below the committed one changes nothing;
  // beyond EndOffset is kInvalidArgument.
  virtual Async<void> Commit(std::string topic, std::string group, int64_t offset) = 0;

  // The last appended offset (0 for an empty topic).
  virtual Async<int64_t> EndOffset(std::string topic) = 0;
  // The group's committed offset (0 before its first commit).
  virtual Async<int64_t> CommittedOffset(std::string topic, std::string group) = 0;
};

}  // namespace shopd::events

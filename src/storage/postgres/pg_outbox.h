// storage/postgres: the transactional outbox, the producer side: part of the
// PostgreSQL stores' write transactions. Depends on core and the connection.
//
// A store that changes state and must publish an event about it adds an
// outbox row on its own connection, inside its own transaction: the event
// exists exactly when the change commits. The relay
// (events/postgres/pg_outbox_relay.h) later moves committed rows into the
// event log. Inserting an outbox row takes no lock another order waits for:
// replicas write orders at once.
//
//   ... UPDATE orders ... (inside InTransaction)
//   if (auto r = co_await AppendToOutbox(conn, timeout, {"order.confirmed", id, payload, now_ms}); !r) ...
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "storage/postgres/pg_connection.h"

namespace shopd::storage::postgres {

struct OutboxEvent {
  std::string topic;
  std::string key;
  std::string payload;
  int64_t created_ms = 0;
};

// An INSERT of outbox rows from four array parameters, $first .. $first+3,
// to embed in a larger statement (a data-modifying WITH clause), and those
// parameters: a change and its events in one round trip, so that a row lock
// the change takes is held for as short a time as possible.
std::string OutboxInsertSql(size_t first_param);
void AddOutboxParams(std::vector<PgParam>& params, const std::vector<OutboxEvent>& events);

// Adds the rows in one statement, on `conn`, inside its open transaction.
boost::asio::awaitable<core::Result<void>> AppendToOutbox(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::vector<OutboxEvent> events);

// The `product.changed` rows for these products (storage/product_changes.h),
// one per distinct id.
std::vector<OutboxEvent> ProductChangedEvents(const std::vector<std::string>& product_ids, int64_t now_ms);

}  // namespace shopd::storage::postgres

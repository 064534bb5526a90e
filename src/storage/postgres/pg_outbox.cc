#include "storage/postgres/pg_outbox.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

#include "storage/postgres/pg_text.h"
#include "storage/product_changes.h"

namespace shopd::storage::postgres {

boost::asio::awaitable<core::Result<void>> AppendToOutbox(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::vector<OutboxEvent> events) {
  if (events.empty()) co_return core::Result<void>{};
  ArrayLiteral topic, key, payload, created_ms;
  for (const OutboxEvent& e : events) {
    topic.Add(std::string_view(e.topic));
    key.Add(std::string_view(e.key));
    payload.Add(std::string_view(e.payload));
    created_ms.Add(e.created_ms);
  }
  std::vector<PgParam> params{topic.Take(), key.Take(), payload.Take(), created_ms.Take()};
  auto r = co_await Run(conn, timeout,
                        "INSERT INTO outbox (topic, key, payload, created_ms) "
                        "SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[])",
                        std::move(params));
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

std::vector<OutboxEvent> ProductChangedEvents(const std::vector<std::string>& product_ids, int64_t now_ms) {
  std::vector<OutboxEvent> events;
  for (const std::string& id : product_ids) {
    if (std::any_of(events.begin(), events.end(), [&](const OutboxEvent& e) { return e.key == id; })) continue;
    events.push_back(OutboxEvent{std::string(kProductChangedTopic), id,
                                 boost::json::serialize(boost::json::object{{"product_id", id}}), now_ms});
  }
  return events;
}

}  // namespace shopd::storage::postgres

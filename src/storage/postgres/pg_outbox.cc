#include "storage/postgres/pg_outbox.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

#include "storage/postgres/pg_text.h"
#include "storage/product_changes.h"

namespace shopd::storage::postgres {

std::string OutboxInsertSql(size_t first_param) {
  auto p = [first_param](size_t i) { return "$" + std::to_string(first_param + i); };
  return "INSERT INTO outbox (topic, key, payload, created_ms) SELECT * FROM unnest(" + p(0) + "::TEXT[], " + p(1) +
         "::TEXT[], " + p(2) + "::TEXT[], " + p(3) + "::BIGINT[])";
}

void AddOutboxParams(std::vector<PgParam>& params, const std::vector<OutboxEvent>& events) {
  ArrayLiteral topic, key, payload, created_ms;
  for (const OutboxEvent& e : events) {
    topic.Add(std::string_view(e.topic));
    key.Add(std::string_view(e.key));
    payload.Add(std::string_view(e.payload));
    created_ms.Add(e.created_ms);
  }
  params.push_back(topic.Take());
  params.push_back(key.Take());
  params.push_back(payload.Take());
  params.push_back(created_ms.Take());
}

boost::asio::awaitable<core::Result<void>> AppendToOutbox(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::vector<OutboxEvent> events) {
  if (events.empty()) co_return core::Result<void>{};
  std::vector<PgParam> params;
  AddOutboxParams(params, events);
  auto r = co_await Run(conn, timeout, OutboxInsertSql(1), std::move(params));
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

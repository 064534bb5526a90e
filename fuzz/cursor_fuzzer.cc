// Fuzzes cursor and query decoding: the catalog cursor codec
// (CatalogService::EncodeCursor / DecodeCursor), the orders cursor codec (in
// OrdersService::List, over a recording store), base64url itself, and query
// parameters (http::Request::QueryParam, http::PageLimit).
//
// The first byte picks the codec, the rest is the text. Invariants:
//   - decode(encode(x)) == x for every id / position / byte string the codec
//     promises to carry, and a decoded cursor re-encodes to the bytes sent
//     (one cursor per position: no aliases);
//   - a cursor the service rejects never reaches the store;
//   - percent-encoded query parameters decode back to what was encoded, and
//     `limit` is 20 when absent, else the integer sent if it is 1..100, else 0.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64url.h"
#include "core/clock.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_stores.h"
#include "http/paging.h"
#include "http/request.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "services/catalog/catalog_service.h"
#include "services/orders/orders_service.h"

namespace {

using shopd::core::Base64UrlDecode;
using shopd::core::Base64UrlEncode;
using shopd::services::CatalogService;
using shopd::services::OrdersService;

void CatalogCursor(std::string_view text) {
  if (auto id = CatalogService::DecodeCursor(text)) {
    FUZZ_CHECK(CatalogService::EncodeCursor(*id) == text);
  }
  // `text` as an id: it round-trips exactly when it is a product id shape.
  const std::string id(text);
  bool id_shape = !id.empty();
  for (unsigned char c : id) id_shape &= std::isalnum(c) || c == '-';
  const std::string cursor = CatalogService::EncodeCursor(id);
  auto back = CatalogService::DecodeCursor(cursor);
  if (id_shape && cursor.size() <= 200) {
    FUZZ_CHECK(back.has_value() && *back == id);
  } else {
    FUZZ_CHECK(!back.has_value());
  }
}

// Runs OrdersService::List(cursor) to completion on a private io_context.
shopd::core::Result<shopd::storage::OrderPage> ListOrders(OrdersService& orders, std::string cursor) {
  static boost::asio::io_context io;
  std::optional<shopd::core::Result<shopd::storage::OrderPage>> out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        out.emplace(co_await orders.List(shopd::core::Principal{"u1", "user"}, std::move(cursor), 20));
      },
      boost::asio::detached);
  io.restart();
  io.run();
  FUZZ_CHECK(out.has_value());
  return std::move(*out);
}

void OrdersCursor(std::string_view text) {
  shopd::fuzz::RecordingOrderStore store;
  shopd::core::ManualClock clock;
  shopd::ratelimit::MemoryRateLimiter limiter(clock);
  OrdersService orders(shopd::services::OrdersConfig{}, store, limiter, clock);

  // As sent by a client.
  store.next_cursor = "42";
  auto page = ListOrders(orders, std::string(text));
  if (!page) {
    FUZZ_CHECK(page.error().type == "invalid-cursor");
    FUZZ_CHECK(!store.listed_with.has_value());
  } else if (!text.empty()) {
    FUZZ_CHECK(store.listed_with.has_value());
    FUZZ_CHECK(Base64UrlEncode("o1:" + *store.listed_with) == text);
  }

  // As handed out: the store's position comes back unchanged. The store's
  // positions are decimal sequence numbers (at most 19 digits); the codec
  // carries any bytes up to 21.
  if (text.empty() || text.size() > 21) return;
  store.next_cursor = std::string(text);
  store.listed_with.reset();
  page = ListOrders(orders, "");
  FUZZ_CHECK(page.has_value() && page->next_cursor.has_value());
  const std::string handed_out = *page->next_cursor;
  store.listed_with.reset();
  page = ListOrders(orders, handed_out);
  FUZZ_CHECK(page.has_value());
  FUZZ_CHECK(store.listed_with.has_value() && *store.listed_with == text);
}

void Base64Url(std::string_view text) {
  const std::string enc = Base64UrlEncode(text);
  FUZZ_CHECK(enc.size() == (text.size() * 4 + 2) / 3);
  auto dec = Base64UrlDecode(enc);
  FUZZ_CHECK(dec.has_value() && *dec == text);
  if (auto d = Base64UrlDecode(text)) FUZZ_CHECK(Base64UrlEncode(*d) == text);
}

shopd::http::Request RequestFor(const std::string& target) {
  shopd::http::Request req;
  req.Bind(nullptr, shopd::http::Method::kGet, "GET", target, "", "127.0.0.1");
  return req;
}

// The raw query as a client sends it.
void RawQuery(std::string_view text) {
  // The target ends exactly at the end of an allocation, so a read past the
  // query's end is an ASan report.
  const std::string target = "/v1/products?" + std::string(text);
  const auto req = RequestFor(target);
  std::string cursor, limit_text;
  req.QueryParam("cursor", cursor);
  const bool has_limit = req.QueryParam("limit", limit_text);
  const int limit = shopd::http::PageLimit(req);
  if (!has_limit) {
    FUZZ_CHECK(limit == 20);
    return;
  }
  int v = 0;
  auto [end, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), v);
  const bool in_range = ec == std::errc{} && end == limit_text.data() + limit_text.size() && v >= 1 && v <= 100;
  FUZZ_CHECK(limit == (in_range ? v : 0));
}

// Pairs split from the input, percent-encoded, must decode back.
void EncodedQuery(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!text.empty() && pairs.size() < 8) {
    size_t a = text.find('\0');
    std::string key(text.substr(0, a));
    text = a == std::string_view::npos ? std::string_view{} : text.substr(a + 1);
    size_t b = text.find('\0');
    std::string value(text.substr(0, b));
    text = b == std::string_view::npos ? std::string_view{} : text.substr(b + 1);
    pairs.emplace_back(std::move(key), std::move(value));
  }
  if (pairs.empty()) return;
  std::string target = "/x?";
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) target += '&';
    target += boost::urls::encode(pairs[i].first, boost::urls::unreserved_chars);
    target += '=';
    target += boost::urls::encode(pairs[i].second, boost::urls::unreserved_chars);
  }
  const auto req = RequestFor(target);
  for (const auto& [key, value] : pairs) {
    std::string got;
    FUZZ_CHECK(req.QueryParam(key, got));
    for (const auto& [k, v] : pairs) {  // the first pair with that key wins
      if (k == key) {
        FUZZ_CHECK(got == v);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: CatalogCursor(text); break;
    case 1: OrdersCursor(text); break;
    case 2: Base64Url(text); break;
    case 3: RawQuery(text); break;
    case 4: EncodedQuery(text); break;
  }
  return 0;
}

#include "services/orders/orders_service.h"

#include <set>

#include "auth/token_hash.h"
#include "core/base64url.h"
#include "core/random.h"

namespace shopd::services {

using core::Errc;
using core::Error;

namespace {

// A replay answers what the first request was answered: the order as accepted.
storage::CreatedOrder AsAccepted(storage::Order order) {
  order.status = storage::OrderStatus::kPending;
  order.reason.clear();
  order.payment = storage::PaymentStatus::kNone;
  order.updated_at = order.created_at;
  return storage::CreatedOrder{std::move(order), true};
}

Error KeyReused() {
  return Error::Make(Errc::kUnprocessable, "this Idempotency-Key was used with a different request body")
      .WithType("idempotency-key-reuse");
}

}  // namespace

OrdersService::OrdersService(const OrdersConfig& config, storage::OrderStore& store, ratelimit::RateLimiter& limiter,
                             const core::Clock& clock, ChangeHook on_change)
    : config_(config), store_(store), limiter_(limiter), clock_(clock), on_change_(std::move(on_change)) {}

bool OrdersService::ValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string OrdersService::RequestHash(const std::vector<OrderLine>& lines) {
  std::string canonical;
  for (const auto& l : lines) canonical += l.product_id + "\x1f" + std::to_string(l.quantity) + "\x1e";
  return auth::Sha256Hex(canonical);
}

std::optional<Error> OrdersService::Validate(const std::vector<OrderLine>& lines) {
  std::vector<core::FieldError> errors;
  if (lines.empty() || lines.size() > 50) errors.push_back({"items", "must hold 1 to 50 items"});
  std::set<std::string_view> seen;
  for (size_t i = 0; i < lines.size() && i < 50; ++i) {
    const std::string prefix = "items[" + std::to_string(i) + "].";
    const auto& l = lines[i];
    if (l.product_id.empty() || l.product_id.size() > 64)
      errors.push_back({prefix + "product_id", "must be a product id"});
    else if (!seen.insert(l.product_id).second)
      errors.push_back({prefix + "product_id", "appears more than once; combine the quantities"});
    if (l.quantity < 1 || l.quantity > 1000) errors.push_back({prefix + "quantity", "must be an integer from 1 to 1000"});
  }
  if (errors.empty()) return std::nullopt;
  return Error::Invalid("request body failed validation", std::move(errors));
}

boost::asio::awaitable<core::Result<storage::CreatedOrder>> OrdersService::Place(const core::Principal& caller,
                                                                                 std::string idempotency_key,
                                                                                 std::vector<OrderLine> lines) {
  if (idempotency_key.empty())
    co_return Error::Invalid("the Idempotency-Key header is required").WithType("idempotency-key-missing");
  if (!ValidIdempotencyKey(idempotency_key))
    co_return Error::Invalid("Idempotency-Key must be 1 to 255 visible ASCII characters")
        .WithType("idempotency-key-invalid");
  if (auto e = Validate(lines)) co_return *e;
  std::string request_hash = RequestHash(lines);
  // Counted before the store is asked, so concurrent requests cannot all slip
  // past one remaining slot; a retry within the budget counts like any request.
  auto gate = co_await limiter_.Hit("orders:user:" + caller.user_id, static_cast<int>(config_.order_burst),
                                    config_.RateWindowMs());
  if (!gate.allowed) co_return co_await ReplayOrRefuse(caller, std::move(idempotency_key), request_hash, gate);
  storage::NewOrder order;
  order.now_ms = clock_.UnixMillis();
  order.id = core::NewUuidV7(order.now_ms);
  order.user_id = caller.user_id;
  order.idempotency_key = std::move(idempotency_key);
  order.request_hash = std::move(request_hash);
  order.max_pending = config_.max_pending_orders_per_user;
  for (auto& l : lines) order.items.push_back(storage::OrderItem{std::move(l.product_id), l.quantity, 0});
  auto created = co_await store_.CreateOrder(std::move(order));
  if (!created) co_return created;
  if (created->replayed) co_return AsAccepted(std::move(created->order));
  if (on_change_) on_change_("placed");
  co_return created;
}

boost::asio::awaitable<core::Result<storage::CreatedOrder>> OrdersService::ReplayOrRefuse(
    const core::Principal& caller, std::string idempotency_key, const std::string& request_hash,
    const ratelimit::Decision& gate) {
  auto known = co_await store_.FindOrderByKey(caller.user_id, std::move(idempotency_key));
  if (!known) co_return known.error();
  if (*known) {
    if ((*known)->request_hash != request_hash) co_return KeyReused();
    co_return AsAccepted(std::move((*known)->order));
  }
  Error e = Error::Make(Errc::kRateLimited, "too many orders, retry later").WithType("order-rate-limited");
  e.retry_after_s = gate.RetryAfterSeconds();
  co_return e;
}

boost::asio::awaitable<core::Result<storage::Order>> OrdersService::Get(const core::Principal& caller,
                                                                        std::string id) {
  if (id.empty() || id.size() > 64) co_return Error::Make(Errc::kNotFound, "no such order");
  co_return co_await store_.GetOrder(caller.user_id, std::move(id));
}

boost::asio::awaitable<core::Result<storage::OrderPage>> OrdersService::List(const core::Principal& caller,
                                                                             std::string cursor, int limit) {
  // The client sees an opaque cursor; the store pages by its own sequence.
  std::string position;
  if (!cursor.empty()) {
    auto raw = core::Base64UrlDecode(cursor);
    if (!raw || !raw->starts_with("o1:") || raw->size() == 3 || raw->size() > 24)
      co_return Error::Invalid("cursor is not valid").WithType("invalid-cursor");
    position = raw->substr(3);
  }
  auto page = co_await store_.ListOrders(caller.user_id, std::move(position), limit);
  if (page && page->next_cursor) page->next_cursor = core::Base64UrlEncode("o1:" + *page->next_cursor);
  co_return page;
}

boost::asio::awaitable<core::Result<storage::Order>> OrdersService::Cancel(const core::Principal& caller,
                                                                           std::string id) {
  if (id.empty() || id.size() > 64) co_return Error::Make(Errc::kNotFound, "no such order");
  auto o = co_await store_.CancelOrder(caller.user_id, std::move(id), clock_.UnixMillis());
  if (o && on_change_) on_change_("cancelled");
  co_return o;
}

}  // namespace shopd::services

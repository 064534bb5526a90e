#include "services/catalog/catalog_service.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/base64url.h"
#include "core/time_format.h"
#include "core/random.h"
#include "services/users/validation.h"

namespace shopd::services {

using core::Errc;
using core::Error;

namespace {
constexpr std::string_view kCursorPrefix = "p1:";


boost::json::object ProductObject(const storage::Product& p) {
  return boost::json::object{{"id", p.id},
                             {"name", p.name},
                             {"description", p.description},
                             {"price_cents", p.price_cents},
                             {"currency", p.currency},
                             {"stock", p.stock},
                             {"created_at", core::Rfc3339(p.created_at)},
                             {"updated_at", core::Rfc3339(p.updated_at)}};
}
}  // namespace

CatalogService::CatalogService(storage::CatalogStore& store, cache::Cache& cache, const core::Clock& clock,
                               std::chrono::milliseconds cache_ttl)
    : store_(store), cache_(cache), clock_(clock), cache_ttl_(cache_ttl) {}

std::string CatalogService::ProductJson(const storage::Product& p) { return boost::json::serialize(ProductObject(p)); }

std::string CatalogService::EncodeCursor(const std::string& after_id) {
  return core::Base64UrlEncode(std::string(kCursorPrefix) + after_id);
}

std::optional<std::string> CatalogService::DecodeCursor(std::string_view cursor) {
  if (cursor.size() > 200) return std::nullopt;
  auto raw = core::Base64UrlDecode(cursor);
  if (!raw || !raw->starts_with(kCursorPrefix) || raw->size() == kCursorPrefix.size()) return std::nullopt;
  std::string id = raw->substr(kCursorPrefix.size());
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return std::nullopt;
  return id;
}

std::optional<Error> CatalogService::Validate(const ProductInput& in) {
  std::vector<core::FieldError> errors;
  size_t name_len = Utf8Length(in.name);
  if (name_len == 0 || name_len > 200) errors.push_back({"name", "must be 1 to 200 characters"});
  if (Utf8Length(in.description) > 5000) errors.push_back({"description", "must be at most 5000 characters"});
  if (in.price_cents <= 0 || in.price_cents > 100'000'000'000) errors.push_back({"price_cents", "must be an integer > 0"});
  bool currency_ok = in.currency.size() == 3;
  for (char c : in.currency) currency_ok &= c >= 'A' && c <= 'Z';
  if (!currency_ok) errors.push_back({"currency", "must be a 3-letter ISO 4217 code like USD"});
  if (in.stock < 0 || in.stock > 1'000'000'000) errors.push_back({"stock", "must be an integer >= 0"});
  if (errors.empty()) return std::nullopt;
  return Error::Invalid("request body failed validation", std::move(errors));
}

boost::asio::awaitable<core::Result<std::string>> CatalogService::Create(const core::Principal& caller,
                                                                         ProductInput in) {
  if (!caller.IsAdmin()) co_return Error::Make(Errc::kPermissionDenied, "only admins can change the catalog");
  if (auto e = Validate(in)) co_return *e;
  storage::Product p;
  p.id = core::NewUuid();
  p.name = std::move(in.name);
  p.description = std::move(in.description);
  p.price_cents = in.price_cents;
  p.currency = std::move(in.currency);
  p.stock = in.stock;
  p.created_at = p.updated_at = clock_.UnixSeconds();
  auto created = co_await store_.CreateProduct(std::move(p));
  if (!created) co_return created.error();
  co_return ProductJson(*created);
}

boost::asio::awaitable<core::Result<std::string>> CatalogService::Update(const core::Principal& caller,
                                                                         std::string id, ProductInput in) {
  if (!caller.IsAdmin()) co_return Error::Make(Errc::kPermissionDenied, "only admins can change the catalog");
  if (auto e = Validate(in)) co_return *e;
  storage::Product p;
  p.id = id;
  p.name = std::move(in.name);
  p.description = std::move(in.description);
  p.price_cents = in.price_cents;
  p.currency = std::move(in.currency);
  p.stock = in.stock;
  p.updated_at = clock_.UnixSeconds();
  // The store announces the change after its commit (ProductsChanged).
  auto updated = co_await store_.UpdateProduct(std::move(p));
  if (!updated) co_return updated.error();
  co_return ProductJson(*updated);
}

boost::asio::awaitable<void> CatalogService::ProductsChanged(std::vector<std::string> product_ids) {
  for (const std::string& id : product_ids) co_await cache_.Delete(CacheKey(id));
}

boost::asio::awaitable<core::Result<std::string>> CatalogService::Get(std::string id) {
  if (id.empty() || id.size() > 64) co_return Error::Make(Errc::kNotFound, "no such product");
  // Captures stay within std::function's inline buffer: no allocation on a hit.
  // `id` outlives the loader, which only runs inside GetOrLoad below.
  cache::Loader load = [this, &id]() -> boost::asio::awaitable<core::Result<std::string>> {
    auto p = co_await store_.GetProduct(id);
    if (!p) co_return p.error();
    co_return ProductJson(*p);
  };
  co_return co_await cache_.GetOrLoad(CacheKey(id), cache_ttl_, std::move(load));
}

boost::asio::awaitable<core::Result<std::string>> CatalogService::List(std::string cursor, int limit) {
  std::string after;
  if (!cursor.empty()) {
    auto decoded = DecodeCursor(cursor);
    if (!decoded) co_return Error::Invalid("cursor is not valid").WithType("invalid-cursor");
    after = std::move(*decoded);
  }
  auto page = co_await store_.ListProducts(std::move(after), limit);
  if (!page) co_return page.error();
  boost::json::array items;
  for (const auto& p : page->items) items.push_back(ProductObject(p));
  boost::json::object doc{{"items", std::move(items)}};
  if (page->next_after_id) doc["next_cursor"] = EncodeCursor(*page->next_after_id);
  else doc["next_cursor"] = nullptr;
  co_return boost::json::serialize(doc);
}

}  // namespace shopd::services

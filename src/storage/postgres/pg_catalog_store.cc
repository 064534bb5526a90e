#include "storage/postgres/pg_catalog_store.h"

#include <string>
#include <utility>
#include <vector>

#include "storage/postgres/pg_outbox.h"
#include "storage/postgres/pg_transaction.h"

namespace shopd::storage::postgres {
namespace {

template <class T>
using Awaitable = boost::asio::awaitable<T>;

#define SHOPD_PRODUCT_COLUMNS "id, name, description, price_cents, currency, stock, created_at, updated_at"

Product ReadProduct(const PgResult& r, int row) {
  Product p;
  p.id = r.Text(row, 0);
  p.name = r.Text(row, 1);
  p.description = r.Text(row, 2);
  p.price_cents = r.Int64(row, 3);
  p.currency = r.Text(row, 4);
  p.stock = r.Int64(row, 5);
  p.created_at = r.Int64(row, 6);
  p.updated_at = r.Int64(row, 7);
  return p;
}

core::Error NotFound() { return core::Error::Make(core::Errc::kNotFound, "no such product"); }

Awaitable<core::Result<Product>> Update(PgConnection& conn, std::chrono::milliseconds timeout, Product p) {
  std::vector<PgParam> params{p.name,          p.description,
                              std::to_string(p.price_cents), p.currency,
                              std::to_string(p.stock),       std::to_string(p.updated_at),
                              p.id};
  auto r = co_await Run(conn, timeout,
                        "UPDATE products SET name = $1, description = $2, price_cents = $3, currency = $4, "
                        "stock = $5, updated_at = $6 WHERE id = $7 RETURNING " SHOPD_PRODUCT_COLUMNS,
                        std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return NotFound();
  std::vector<std::string> ids(1, p.id);
  if (auto o = co_await AppendToOutbox(conn, timeout, ProductChangedEvents(ids, p.updated_at * 1000)); !o)
    co_return o.error();
  co_return ReadProduct(*r, 0);
}

Awaitable<core::Result<Product>> Announce(Awaitable<core::Result<Product>> update, ProductChangeListener* changes) {
  auto updated = co_await std::move(update);
  if (updated && changes) {
    std::vector<std::string> ids(1, updated->id);
    co_await changes->ProductsChanged(std::move(ids));
  }
  co_return updated;
}

Awaitable<core::Result<Product>> Create(PgPool& pool, Product p) {
  std::vector<PgParam> params{p.id,
                              p.name,
                              p.description,
                              std::to_string(p.price_cents),
                              p.currency,
                              std::to_string(p.stock),
                              std::to_string(p.created_at),
                              std::to_string(p.updated_at)};
  auto r = co_await pool.Query("INSERT INTO products (" SHOPD_PRODUCT_COLUMNS
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                               std::move(params));
  if (!r) co_return r.error();
  co_return p;
}

Awaitable<core::Result<Product>> Get(PgPool& pool, std::string id) {
  std::vector<PgParam> params{std::move(id)};
  auto r = co_await pool.Query("SELECT " SHOPD_PRODUCT_COLUMNS " FROM products WHERE id = $1", std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return NotFound();
  co_return ReadProduct(*r, 0);
}

Awaitable<core::Result<ProductPage>> List(PgPool& pool, std::string after_id, int limit) {
  // One extra row tells whether another page exists. COLLATE "C": the same
  // byte order as SQLite's, whatever the database's collation.
  std::vector<PgParam> params{std::move(after_id), std::to_string(int64_t{limit} + 1)};
  auto r = co_await pool.Query("SELECT " SHOPD_PRODUCT_COLUMNS
                               " FROM products WHERE id > $1 COLLATE \"C\" ORDER BY id COLLATE \"C\" LIMIT $2",
                               std::move(params));
  if (!r) co_return r.error();
  ProductPage page;
  for (int i = 0; i < r->rows(); ++i) page.items.push_back(ReadProduct(*r, i));
  if (page.items.size() > static_cast<size_t>(limit)) {
    page.items.pop_back();
    page.next_after_id = page.items.back().id;
  }
  co_return page;
}

}  // namespace

Async<Product> PgCatalogStore::CreateProduct(Product product) { return Create(pool_, std::move(product)); }

Async<Product> PgCatalogStore::UpdateProduct(Product product) {
  const auto timeout = pool_.options().query_timeout;
  TxBody<Product> body = [timeout, product = std::move(product)](PgConnection& conn) {
    return Update(conn, timeout, product);
  };
  return Announce(InTransaction<Product>(pool_, std::move(body)), changes_);
}

// From the primary: a product read fills the caches right after an
// invalidation, and a lagging replica would put the old row back in them.
Async<Product> PgCatalogStore::GetProduct(std::string id) { return Get(pool_, std::move(id)); }

Async<ProductPage> PgCatalogStore::ListProducts(std::string after_id, int limit) {
  PgReadPools::ReadFn<ProductPage> read = [after_id = std::move(after_id), limit](PgPool& pool) {
    return List(pool, after_id, limit);
  };
  return reads_.Read<ProductPage>(std::move(read));
}

}  // namespace shopd::storage::postgres

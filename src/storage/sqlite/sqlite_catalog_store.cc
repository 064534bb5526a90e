#include "storage/sqlite/sqlite_catalog_store.h"

#include "storage/sqlite/product_change_outbox.h"

namespace shopd::storage::sqlite {
namespace {

constexpr const char* kColumns = "id, name, description, price_cents, currency, stock, created_at, updated_at";

Product ReadProduct(const Statement& st) {
  Product p;
  p.id = st.ColumnText(0);
  p.name = st.ColumnText(1);
  p.description = st.ColumnText(2);
  p.price_cents = st.ColumnInt64(3);
  p.currency = st.ColumnText(4);
  p.stock = st.ColumnInt64(5);
  p.created_at = st.ColumnInt64(6);
  p.updated_at = st.ColumnInt64(7);
  return p;
}

core::Result<Product> Get(Connection& conn, const std::string& id) {
  auto st = conn.Prepare(std::string("SELECT ") + kColumns + " FROM products WHERE id = ?");
  if (!st) return st.error();
  st->Bind(1, id);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kNotFound, "no such product");
  return ReadProduct(*st);
}

}  // namespace

Async<Product> SqliteCatalogStore::CreateProduct(Product p) {
  return pool_.Run([this, p = std::move(p)]() -> core::Result<Product> {
    return db_.WithConnection([&](Connection& conn) -> core::Result<Product> {
      auto st = conn.Prepare(
          "INSERT INTO products (id, name, description, price_cents, currency, stock, created_at, updated_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return st.error();
      st->Bind(1, p.id).Bind(2, p.name).Bind(3, p.description).Bind(4, p.price_cents);
      st->Bind(5, p.currency).Bind(6, p.stock).Bind(7, p.created_at).Bind(8, p.updated_at);
      if (auto r = st->Run(); !r) return r.error();
      return p;
    });
  });
}

Async<Product> SqliteCatalogStore::UpdateProduct(Product p) {
  // Not a coroutine itself: GCC 12 destroys a coroutine parameter moved into
  // a lambda capture twice.
  return Announce(pool_.Run([this, p = std::move(p)]() -> core::Result<Product> {
    return db_.WithConnection([&](Connection& conn) -> core::Result<Product> {
      auto tx = Transaction::BeginImmediate(conn);
      if (!tx) return tx.error();
      auto st = conn.Prepare(
          "UPDATE products SET name = ?, description = ?, price_cents = ?, currency = ?, stock = ?, "
          "updated_at = ? WHERE id = ?");
      if (!st) return st.error();
      st->Bind(1, p.name).Bind(2, p.description).Bind(3, p.price_cents).Bind(4, p.currency);
      st->Bind(5, p.stock).Bind(6, p.updated_at).Bind(7, p.id);
      if (auto r = st->Run(); !r) return r.error();
      if (conn.Changes() == 0) return core::Error::Make(core::Errc::kNotFound, "no such product");
      ProductChangeOutbox changed;
      if (auto r = changed.Record(conn, p.id, p.updated_at * 1000); !r) return r.error();
      auto row = Get(conn, p.id);
      if (!row) return row;
      if (auto c = tx->Commit(); !c) return c.error();
      return row;
    });
  }));
}

Async<Product> SqliteCatalogStore::Announce(Async<Product> update) {
  auto updated = co_await std::move(update);
  if (updated && changes_) {
    std::vector<std::string> ids(1, updated->id);
    co_await changes_->ProductsChanged(std::move(ids));
  }
  co_return updated;
}

Async<Product> SqliteCatalogStore::GetProduct(std::string id) {
  return pool_.Run([this, id = std::move(id)]() -> core::Result<Product> {
    return db_.WithConnection([&](Connection& conn) { return Get(conn, id); });
  });
}

Async<ProductPage> SqliteCatalogStore::ListProducts(std::string after_id, int limit) {
  return pool_.Run([this, after_id = std::move(after_id), limit]() -> core::Result<ProductPage> {
    return db_.WithConnection([&](Connection& conn) -> core::Result<ProductPage> {
      // One extra row tells whether another page exists.
      auto st = conn.Prepare(std::string("SELECT ") + kColumns + " FROM products WHERE id > ? ORDER BY id LIMIT ?");
      if (!st) return st.error();
      st->Bind(1, after_id).Bind(2, int64_t{limit} + 1);
      ProductPage page;
      for (;;) {
        auto row = st->Step();
        if (!row) return row.error();
        if (!*row) break;
        page.items.push_back(ReadProduct(*st));
      }
      if (page.items.size() > static_cast<size_t>(limit)) {
        page.items.pop_back();
        page.next_after_id = page.items.back().id;
      }
      return page;
    });
  });
}

}  // namespace shopd::storage::sqlite

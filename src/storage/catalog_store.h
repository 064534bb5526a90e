// storage: the product catalog store interface. Depends on core.
//
// Products are listed in id order; a page continues after the last id of the
// previous one (keyset pagination: stable under inserts, no OFFSET scans).
//
//   auto page = co_await catalog.ListProducts(after_id, 20);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/user_store.h"

namespace shopd::storage {

struct Product {
  std::string id;
  std::string name;
  std::string description;
  int64_t price_cents = 0;
  std::string currency;  // ISO 4217, upper-case
  int64_t stock = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct ProductPage {
  std::vector<Product> items;
  std::optional<std::string> next_after_id;  // set when more may follow
};

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;
  virtual Async<Product> CreateProduct(Product product) = 0;
  // Replaces every field but id and created_at; kNotFound when absent.
  virtual Async<Product> UpdateProduct(Product product) = 0;
  virtual Async<Product> GetProduct(std::string id) = 0;
  // Products with id > after_id ("" = from the start), at most `limit`.
  virtual Async<ProductPage> ListProducts(std::string after_id, int limit) = 0;
};

}  // namespace shopd::storage

// storage: the after-commit notice that products changed (stock or any other
// field), so that caches of them are invalidated as soon as the change is
// durable. Depends on core.
//
// Every write that changes a product row — the saga's stock reservation, the
// release on a cancellation or a rejection, an admin update — goes through a
// store, and the store is the one place that announces it: inside the write's
// transaction it adds a `product.changed` outbox row per product (so other
// processes, which share the event log, hear of it too), and after the commit
// it calls its ProductChangeListener (so this process hears of it before the
// write's caller resumes). A reader that saw the write's effect (an order
// confirmed) therefore never reads the product as it was before, in the
// process that made the change; other processes follow within the event
// tail's delay (app/ wires it; the cache TTL bounds it if the tail stalls).
//
//   ProductChangeNotifier changes;
//   changes.Subscribe(catalog_service);           // wiring, before any write
//   SqliteOrderStore orders(db, pool, writer, &changes);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace shopd::storage {

// The event-log topic of product changes; key = product id.
inline constexpr std::string_view kProductChangedTopic = "product.changed";

class ProductChangeListener {
 public:
  virtual ~ProductChangeListener() = default;
  // The rows of these products changed and the change is committed. Never
  // fails: a listener that cannot act (a cache backend down) logs and relies
  // on its own expiry.
  virtual boost::asio::awaitable<void> ProductsChanged(std::vector<std::string> product_ids) = 0;
};

// Fans each notice out to every subscriber, in subscription order.
// Subscribe while wiring, before the first notice: the list is not locked.
class ProductChangeNotifier final : public ProductChangeListener {
 public:
  void Subscribe(ProductChangeListener& listener) { subscribers_.push_back(&listener); }

  // ProductChangeListener
  boost::asio::awaitable<void> ProductsChanged(std::vector<std::string> product_ids) override {
    for (ProductChangeListener* s : subscribers_) co_await s->ProductsChanged(product_ids);
  }

 private:
  std::vector<ProductChangeListener*> subscribers_;
};

}  // namespace shopd::storage

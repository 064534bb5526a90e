// fuzz: store fakes for the fuzz targets that drive a service. Every call the
// target does not expect fails loudly (kInternal), so a fuzz run notices when
// a service starts reaching the store on a new path.
#pragma once

#include <optional>
#include <string>

#include "storage/order_store.h"

namespace shopd::fuzz {

class RecordingOrderStore final : public storage::OrderStore {
 public:
  // ListOrders records the position it was given and answers one order with
  // `next_cursor` as the next position.
  std::optional<std::string> listed_with;
  std::string next_cursor;

  storage::Async<storage::OrderPage> ListOrders(std::string user_id, std::string cursor, int limit) override {
    listed_with = std::move(cursor);
    storage::OrderPage page;
    page.items.push_back(storage::Order{.id = "o1", .user_id = user_id, .status = storage::OrderStatus::kPending});
    page.next_cursor = next_cursor;
    co_return page;
  }

  // OrderStore: not reached by the fuzz targets.
  storage::Async<storage::CreatedOrder> CreateOrder(storage::NewOrder) override { co_return Unexpected(); }
  storage::Async<std::optional<storage::KeyedOrder>> FindOrderByKey(std::string, std::string) override {
    co_return Unexpected();
  }
  storage::Async<storage::Order> GetOrder(std::string, std::string) override { co_return Unexpected(); }
  storage::Async<storage::Order> CancelOrder(std::string, std::string, int64_t) override { co_return Unexpected(); }
  storage::Async<storage::Order> CompleteRefund(std::string, int64_t) override { co_return Unexpected(); }
  storage::Async<storage::Order> LoadOrder(std::string) override { co_return Unexpected(); }
  storage::Async<storage::Reservation> ReserveStock(std::string, int64_t) override { co_return Unexpected(); }
  storage::Async<storage::PaymentStatus> RecordPayment(std::string, bool) override { co_return Unexpected(); }
  storage::Async<storage::Order> SettlePayment(std::string, bool, int64_t) override { co_return Unexpected(); }
  storage::Async<storage::Order> ConfirmOrder(std::string, int64_t) override { co_return Unexpected(); }
  storage::Async<storage::Order> RejectOrder(std::string, std::string, int64_t) override { co_return Unexpected(); }

 private:
  static core::Error Unexpected() {
    return core::Error::Make(core::Errc::kInternal, "internal error", "fuzz: unexpected store call");
  }
};

}  // namespace shopd::fuzz

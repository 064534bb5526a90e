// storage: an order's status and its payment's, and the one table of the
// moves each may make. Depends on nothing.
//
// Every backend enforces this same table in its database (triggers on SQLite;
// a test checks they agree), so an illegal move is impossible, not just
// unlikely:
//   pending -> confirmed | rejected | cancelled | cancelling
//   confirmed -> cancelling -> cancelled        (the refund; cancelled only once refunded)
//   payment: none -> approved | declined | refund_pending,
//            approved -> refund_pending -> refunded
// A decision is never rewritten, a refund never undone, and a cancelled order
// never keeps the money.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace shopd::storage {

enum class OrderStatus : uint8_t { kPending, kConfirmed, kRejected, kCancelling, kCancelled };
enum class PaymentStatus : uint8_t { kNone, kApproved, kDeclined, kRefundPending, kRefunded };

// As stored and as the API shows them: "pending" ..., and "" for no payment.
std::string_view ToString(OrderStatus s);
std::string_view ToString(PaymentStatus s);
std::optional<OrderStatus> ParseOrderStatus(std::string_view text);
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view text);

// The table. Staying put is not a move (false).
bool CanMove(OrderStatus from, OrderStatus to);
bool CanMove(PaymentStatus from, PaymentStatus to);

// For test failure messages.
std::ostream& operator<<(std::ostream& os, OrderStatus s);
std::ostream& operator<<(std::ostream& os, PaymentStatus s);

}  // namespace shopd::storage

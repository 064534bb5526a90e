#include "storage/order_status.h"

#include <array>
#include <ostream>
#include <utility>

namespace shopd::storage {
namespace {

constexpr std::array<std::string_view, 5> kOrderNames = {"pending", "confirmed", "rejected", "cancelling",
                                                         "cancelled"};
constexpr std::array<std::string_view, 5> kPaymentNames = {"", "approved", "declined", "refund_pending",
                                                           "refunded"};

using O = OrderStatus;
using P = PaymentStatus;
constexpr std::pair<O, O> kOrderMoves[] = {
    {O::kPending, O::kConfirmed},    {O::kPending, O::kRejected},     {O::kPending, O::kCancelled},
    {O::kPending, O::kCancelling},   {O::kConfirmed, O::kCancelling}, {O::kCancelling, O::kCancelled},
};
constexpr std::pair<P, P> kPaymentMoves[] = {
    {P::kNone, P::kApproved},          {P::kNone, P::kDeclined},         {P::kNone, P::kRefundPending},
    {P::kApproved, P::kRefundPending}, {P::kRefundPending, P::kRefunded},
};

template <class E, size_t N>
std::optional<E> Parse(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view ToString(OrderStatus s) { return kOrderNames.at(static_cast<size_t>(s)); }
std::string_view ToString(PaymentStatus s) { return kPaymentNames.at(static_cast<size_t>(s)); }
std::optional<OrderStatus> ParseOrderStatus(std::string_view text) { return Parse<OrderStatus>(kOrderNames, text); }
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view text) {
  return Parse<PaymentStatus>(kPaymentNames, text);
}

bool CanMove(OrderStatus from, OrderStatus to) {
  for (auto [a, b] : kOrderMoves)
    if (a == from && b == to) return true;
  return false;
}

bool CanMove(PaymentStatus from, PaymentStatus to) {
  for (auto [a, b] : kPaymentMoves)
    if (a == from && b == to) return true;
  return false;
}

std::ostream& operator<<(std::ostream& os, OrderStatus s) { return os << ToString(s); }
std::ostream& operator<<(std::ostream& os, PaymentStatus s) {
  return os << (s == PaymentStatus::kNone ? std::string_view("none") : ToString(s));
}

}  // namespace shopd::storage

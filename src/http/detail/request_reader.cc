#include "http/detail/request_reader.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

#include "http/detail/body_budget.h"
#include "http/router.h"

namespace shopd::http::detail {

namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {
using Failure = RequestReader::Failure;
constexpr Failure kHeaderTooLarge{431, "header-too-large", "request header block is too large", false};
constexpr Failure kBodyTooLarge{413, "payload-too-large", "request body is too large", false};
constexpr Failure kOverBudget{503, "server-busy", "too many request bodies in flight; retry shortly", true};
}  // namespace

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return Method::kGet;
    case bhttp::verb::head: return Method::kHead;
    case bhttp::verb::post: return Method::kPost;
    case bhttp::verb::put: return Method::kPut;
    case bhttp::verb::patch: return Method::kPatch;
    case bhttp::verb::delete_: return Method::kDelete;
    case bhttp::verb::options: return Method::kOptions;
    default: return Method::kOther;
  }
}

RequestReader::RequestReader(ReaderLimits limits, const Router* router, BodyBudget* budget)
    : limits_(limits), router_(router), budget_(budget) {
  Next();
}

RequestReader::~RequestReader() {
  if (budget_ && reserved_ > 0) budget_->Release(reserved_);
}

void RequestReader::Next() {
  if (budget_ && reserved_ > 0) budget_->Release(reserved_);
  reserved_ = 0;
  body_limit_ = limits_.max_body_bytes;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
  // Stop at the end of the header, so the body's limits are decided before
  // any of it is taken in.
  parser_->eager(false);
  header_bytes_ = 0;
  method_ = Method::kOther;
  failure_ = Failure{};
}

bool RequestReader::expects_continue() const {
  return beast::iequals(parser_->get()[bhttp::field::expect], "100-continue");
}

RequestReader::Event RequestReader::Fail(Failure f) {
  failure_ = f;
  return Event::kError;
}

bool RequestReader::ReserveUpTo(int64_t bytes) {
  if (!budget_ || bytes <= reserved_) return true;
  // A chunked body grows its reservation in steps, not per chunk.
  constexpr int64_t kStep = 16 << 10;
  const int64_t want = std::max(bytes, std::min(reserved_ + kStep, body_limit_)) - reserved_;
  if (!budget_->TryReserve(want)) return false;
  reserved_ += want;
  return true;
}

std::optional<RequestReader::Failure> RequestReader::AdmitBody() {
  auto length = parser_->content_length();
  const bool chunked = parser_->chunked();
  if (!chunked && length.value_or(0) == 0) return std::nullopt;

  int64_t limit = limits_.max_body_bytes;
  if (router_) {
    std::string_view target = parser_->get().target();
    std::string_view path = target.substr(0, target.find('?'));
    if (int64_t route_limit = router_->BodyLimit(method_, path); route_limit > 0)
      limit = std::min(limit, route_limit);
  }
  if (length && static_cast<int64_t>(*length) > limit) return kBodyTooLarge;
  parser_->body_limit(static_cast<std::uint64_t>(limit));  // a chunked body counts down from it
  body_limit_ = limit;

  if (budget_) {
    const int64_t want = length ? static_cast<int64_t>(*length) : std::min<int64_t>(16 << 10, limit);
    if (!budget_->TryReserve(want)) return kOverBudget;
    reserved_ = want;
  }
  return std::nullopt;
}

RequestReader::Event RequestReader::Read(beast::flat_buffer& buffer) {
  const auto max_header = static_cast<size_t>(limits_.max_header_bytes);
  while (buffer.size() > 0) {
    beast::error_code ec;
    const bool in_header = !parser_->is_header_done();
    const size_t used = parser_->put(buffer.data(), ec);
    buffer.consume(used);
    if (in_header) {
      header_bytes_ += used;
      if (header_bytes_ > max_header || (!parser_->is_header_done() && buffer.size() > max_header))
        ec = bhttp::error::header_limit;
    }
    if (ec == bhttp::error::need_more) {
      if (used == 0) return Event::kNeedMore;
      continue;
    }
    if (ec == bhttp::error::header_limit)
      return Fail(kHeaderTooLarge);
    if (ec == bhttp::error::body_limit) return Fail(kBodyTooLarge);
    if (ec) return Fail({});

    if (in_header && parser_->is_header_done()) {
      method_ = ToMethod(parser_->get().method());
      if (auto refused = AdmitBody()) return Fail(*refused);
      if (!parser_->is_done()) {
        parser_->eager(true);
        return Event::kHeader;
      }
    }
    if (parser_->is_done()) return Event::kRequest;
    if (!in_header && !ReserveUpTo(static_cast<int64_t>(parser_->get().body().size())))
      return Fail(kOverBudget);
    if (used == 0) return Event::kNeedMore;
  }
  return Event::kNeedMore;
}

}  // namespace shopd::http::detail

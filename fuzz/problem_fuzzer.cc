// Fuzzes the problem/response serializer: http::ProblemFromError and
// http::Problem with arbitrary messages, slugs, request ids and field errors,
// and the JSON writers of src/obs (AppendJsonString, AppendJsonLogLine, the
// number formats) that every log line goes through.
//
// Invariants: every document is valid JSON (RFC 8259: UTF-8) and parses back
// to the fields it was given (bytes that are not UTF-8 become U+FFFD); the
// status follows the one Errc -> HTTP table; 401 carries WWW-Authenticate,
// 429/503 a positive Retry-After; a 500 shows nothing of the error.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>
#include <fcntl.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_utf8.h"
#include "http/problem.h"
#include "http/request.h"
#include "obs/json_escape.h"
#include "obs/log.h"

namespace {

using shopd::core::Errc;
using shopd::core::Error;
using shopd::core::FieldError;
using shopd::fuzz::Repaired;

boost::json::value ParseOrDie(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) std::fprintf(stderr, "not JSON (%s): %.*s\n", ec.message().c_str(), int(text.size()), text.data());
  FUZZ_CHECK(!ec);
  return v;
}

std::string StringField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  FUZZ_CHECK(v != nullptr && v->is_string());
  return std::string(v->get_string());
}

int StatusFor(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument: return e.field_errors.empty() ? 400 : 422;
    case Errc::kUnauthenticated: return 401;
    case Errc::kPermissionDenied: return 403;
    case Errc::kNotFound: return 404;
    case Errc::kConflict: return 409;
    case Errc::kUnprocessable: return 422;
    case Errc::kUnsupportedMedia: return 415;
    case Errc::kRateLimited: return 429;
    case Errc::kUnavailable: return 503;
    case Errc::kInternal: return 500;
  }
  return 500;
}

// The document matches what it was built from.
void CheckDocument(const shopd::http::Response& r, int status, std::string_view slug, std::string_view detail,
                   std::string_view request_id, const std::vector<FieldError>& errors) {
  FUZZ_CHECK(r.status == status);
  FUZZ_CHECK(r.content_type == "application/problem+json");
  boost::json::value v = ParseOrDie(r.body);
  FUZZ_CHECK(v.is_object());
  const auto& o = v.as_object();
  FUZZ_CHECK(StringField(o, "type") == "https://shopd.dev/problems/" + Repaired(slug));
  FUZZ_CHECK(StringField(o, "title") == shopd::http::StatusReason(status));
  FUZZ_CHECK(o.contains("status") && o.at("status").is_int64() && o.at("status").get_int64() == status);
  FUZZ_CHECK(StringField(o, "detail") == Repaired(detail));
  if (request_id.empty()) {
    FUZZ_CHECK(!o.contains("request_id"));
  } else {
    FUZZ_CHECK(StringField(o, "request_id") == Repaired(request_id));
  }
  if (errors.empty()) {
    FUZZ_CHECK(!o.contains("errors"));
    return;
  }
  const auto* list = o.if_contains("errors");
  FUZZ_CHECK(list != nullptr && list->is_array() && list->get_array().size() == errors.size());
  for (size_t i = 0; i < errors.size(); ++i) {
    const auto& entry = list->get_array()[i];
    FUZZ_CHECK(entry.is_object() && entry.get_object().size() == 2);
    FUZZ_CHECK(StringField(entry.get_object(), "field") == Repaired(errors[i].field));
    FUZZ_CHECK(StringField(entry.get_object(), "message") == Repaired(errors[i].message));
  }
}

void FuzzProblem(FuzzedDataProvider& in) {
  Error e;
  e.code = static_cast<Errc>(in.ConsumeIntegralInRange<int>(0, static_cast<int>(Errc::kInternal)));
  e.retry_after_s = in.ConsumeIntegral<int>();
  e.message = in.ConsumeRandomLengthString(256);
  e.type = in.ConsumeRandomLengthString(64);
  e.internal = in.ConsumeRandomLengthString(64);
  const std::string request_id = in.ConsumeRandomLengthString(64);
  const size_t n = in.ConsumeIntegralInRange<size_t>(0, 8);
  for (size_t i = 0; i < n; ++i) {
    std::string field = in.ConsumeRandomLengthString(64);
    e.field_errors.push_back({std::move(field), in.ConsumeRandomLengthString(128)});
  }

  shopd::http::Request req;
  req.Bind(nullptr, shopd::http::Method::kGet, "GET", "/", "", "127.0.0.1");
  req.SetRequestId(request_id);

  const shopd::http::Response r = shopd::http::ProblemFromError(req, e);
  const int status = StatusFor(e);
  if (status == 500) {
    // Nothing of the error reaches the client.
    CheckDocument(r, 500, "internal-error", "internal error", request_id, {});
  } else {
    const std::string_view fallback = status == 400   ? "bad-request"
                                      : status == 401 ? "unauthorized"
                                      : status == 403 ? "forbidden"
                                      : status == 404 ? "not-found"
                                      : status == 409 ? "conflict"
                                      : status == 415 ? "unsupported-media-type"
                                      : status == 429 ? "rate-limited"
                                      : status == 503 ? "unavailable"
                                      : e.code == Errc::kUnprocessable ? "unprocessable"
                                                                       : "validation-error";
    const bool with_errors = status == 422;
    CheckDocument(r, status, e.type.empty() ? fallback : std::string_view(e.type), e.message, request_id,
                  with_errors ? e.field_errors : std::vector<FieldError>{});
  }
  FUZZ_CHECK((r.GetHeader("WWW-Authenticate") == "Bearer") == (status == 401));
  if (status == 429 || status == 503) {
    FUZZ_CHECK(r.GetHeader("Retry-After") == std::to_string(e.retry_after_s > 0 ? e.retry_after_s : 1));
  } else {
    FUZZ_CHECK(r.GetHeader("Retry-After").empty());
  }

  // Problem() directly, with any status code.
  const int any_status = in.ConsumeIntegralInRange<int>(100, 599);
  const std::string slug = in.ConsumeRandomLengthString(64);
  const std::string detail = in.ConsumeRemainingBytesAsString();
  CheckDocument(shopd::http::Problem(req, any_status, slug, detail, e.field_errors), any_status, slug, detail,
                request_id, e.field_errors);
  CheckDocument(shopd::http::ProblemWithoutRequest(any_status, slug, detail, request_id), any_status, slug, detail,
                request_id, {});
}

void FuzzObsJson(FuzzedDataProvider& in) {
  const std::string event = in.ConsumeRandomLengthString(128);
  std::string quoted;
  shopd::obs::AppendJsonString(quoted, event);
  boost::json::value v = ParseOrDie(quoted);
  FUZZ_CHECK(v.is_string() && v.get_string() == Repaired(event));

  // A log line with fields of every kind; keys are made unique so the parsed
  // object holds each one.
  std::vector<std::string> keys, strings;
  const size_t n = in.ConsumeIntegralInRange<size_t>(0, 6);
  for (size_t i = 0; i < n; ++i) {
    keys.push_back("f" + std::to_string(i) + "_" + in.ConsumeRandomLengthString(32));
    strings.push_back(in.ConsumeRandomLengthString(64));
  }
  const int64_t i64 = in.ConsumeIntegral<int64_t>();
  const uint64_t u64 = in.ConsumeIntegral<uint64_t>();
  const double dbl = in.ConsumeFloatingPoint<double>();
  const bool flag = in.ConsumeBool();
  // system_clock counts nanoseconds: +-292 years around 1970 fit.
  const int64_t ts_ms = in.ConsumeIntegralInRange<int64_t>(-9'000'000'000'000, 9'000'000'000'000);
  std::vector<shopd::obs::Field> fields;
  for (size_t i = 0; i < n; ++i) fields.push_back({keys[i], strings[i]});
  // Brace-initialised lists are what the logger takes; fixed keys cover the
  // number and bool kinds.
  const shopd::obs::Field fixed[] = {{"i64", i64}, {"u64", u64}, {"dbl", dbl}, {"flag", flag}};
  for (const auto& f : fixed) fields.push_back(f);

  std::string line;
  const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(ts_ms));
  // The logger takes an initializer_list, which cannot be built at run
  // time: one line per field.
  for (const auto& f : fields) {
    line.clear();
    shopd::obs::AppendJsonLogLine(line, ts, shopd::obs::LogLevel::kWarn, event, {f});
    boost::json::value l = ParseOrDie(line);
    FUZZ_CHECK(l.is_object());
    const auto& o = l.as_object();
    FUZZ_CHECK(StringField(o, "msg") == Repaired(event));
    FUZZ_CHECK(StringField(o, "level") == "warn");
    FUZZ_CHECK(StringField(o, "ts").size() == 24);
    if (f.key == "msg" || f.key == "level" || f.key == "ts") continue;
    const auto* got = o.if_contains(Repaired(f.key));
    FUZZ_CHECK(got != nullptr);
    switch (f.value.kind()) {
      case shopd::obs::FieldValue::Kind::kString:
        FUZZ_CHECK(got->is_string() && got->get_string() == Repaired(f.value.str()));
        break;
      case shopd::obs::FieldValue::Kind::kInt:
        FUZZ_CHECK(got->is_int64() && got->get_int64() == f.value.int_value());
        break;
      case shopd::obs::FieldValue::Kind::kUint:
        FUZZ_CHECK(got->to_number<uint64_t>() == f.value.uint_value());
        break;
      case shopd::obs::FieldValue::Kind::kDouble:
        if (!std::isfinite(f.value.double_value())) {
          FUZZ_CHECK(got->is_null());
        } else {
          const double want = f.value.double_value();
          const double back = got->to_number<double>();
          FUZZ_CHECK(std::fabs(back - want) <= std::max(std::fabs(want) * 1e-15, 1e-300));
        }
        break;
      case shopd::obs::FieldValue::Kind::kBool:
        FUZZ_CHECK(got->is_bool() && got->get_bool() == f.value.bool_value());
        break;
    }
  }
  std::string fixed_text;
  shopd::obs::AppendJsonFixed(fixed_text, dbl, in.ConsumeIntegralInRange<int>(0, 6));
  boost::json::value fx = ParseOrDie(fixed_text);
  FUZZ_CHECK(std::isfinite(dbl) ? fx.is_number() : fx.is_null());

  // And through the logger itself (into /dev/null).
  shopd::obs::LogInfo(event, {{"k", strings.empty() ? std::string_view{} : std::string_view(strings[0])},
                              {"i", i64}, {"d", dbl}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shopd::obs::InitLogging({.level = "debug", .json = true, .fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC)});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) {
    FuzzProblem(in);
  } else {
    FuzzObsJson(in);
  }
  return 0;
}

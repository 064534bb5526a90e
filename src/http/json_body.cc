#include "http/json_body.h"

#include <boost/json/parse.hpp>

namespace shopd::http {
namespace {

bool IsJsonContentType(std::string_view ct) {
  // "application/json" with optional parameters (charset=utf-8), any case.
  size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < kJson.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  return true;
}

std::string_view KindName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

}  // namespace

core::Result<boost::json::object> ParseJsonObject(const Request& req) {
  if (!IsJsonContentType(req.Header("Content-Type")))
    return core::Error::Make(core::Errc::kUnsupportedMedia, "Content-Type must be application/json");
  boost::json::parse_options opts;
  opts.max_depth = 32;  // deep nesting is never valid input here; bound the parser's work
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(req.body(), ec, {}, opts);
  if (ec) return core::Error::Invalid("request body is not valid JSON: " + ec.message()).WithType("malformed-json");
  if (!v.is_object())
    return core::Error::Invalid("request body must be a JSON object",
                                {{"", std::string("expected an object, got ") + std::string(KindName(v))}});
  return std::move(v.as_object());
}

std::string FieldReader::RequiredString(std::string_view field) {
  auto it = obj_.find(field);
  if (it == obj_.end()) {
    AddError(std::string(field), "is required");
    return {};
  }
  if (!it->value().is_string()) {
    AddError(std::string(field), "must be a string, got " + std::string(KindName(it->value())));
    return {};
  }
  return std::string(it->value().as_string());
}

std::optional<std::string> FieldReader::OptionalString(std::string_view field) {
  auto it = obj_.find(field);
  if (it == obj_.end()) return std::nullopt;
  if (!it->value().is_string()) {
    AddError(std::string(field), "must be a string, got " + std::string(KindName(it->value())));
    return std::nullopt;
  }
  return std::string(it->value().as_string());
}

int64_t FieldReader::RequiredInt(std::string_view field) {
  auto it = obj_.find(field);
  if (it == obj_.end()) {
    AddError(std::string(field), "is required");
    return 0;
  }
  const auto& v = it->value();
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v.as_uint64());
  AddError(std::string(field), "must be an integer, got " + std::string(KindName(v)));
  return 0;
}

const boost::json::array* FieldReader::RequiredArray(std::string_view field) {
  auto it = obj_.find(field);
  if (it == obj_.end()) {
    AddError(std::string(field), "is required");
    return nullptr;
  }
  if (!it->value().is_array()) {
    AddError(std::string(field), "must be an array, got " + std::string(KindName(it->value())));
    return nullptr;
  }
  return &it->value().as_array();
}

void FieldReader::RejectUnknown(std::initializer_list<std::string_view> known) {
  for (const auto& kv : obj_) {
    bool ok = false;
    for (auto k : known) ok |= kv.key() == k;
    if (!ok) AddError(std::string(kv.key()), "unknown field");
  }
}

bool FieldReader::HasError(std::string_view field) const {
  for (const auto& e : errors_)
    if (e.field == field) return true;
  return false;
}

std::optional<core::Error> FieldReader::Finish() const {
  if (errors_.empty()) return std::nullopt;
  return core::Error::Invalid("request body failed validation", errors_);
}

}  // namespace shopd::http

// Fuzzes JSON request bodies through the routes' validators: http::ParseJsonObject
// and FieldReader, each route's body reader, and the domain validators behind
// them (users/validation.cc, OrdersService::Validate, CatalogService::Validate).
//
// Input: byte 0 picks the route, byte 1 the Content-Type, the rest is the body.
// Invariants, each against an independent reading of the body (boost::json):
//   - a body is accepted exactly when its Content-Type is JSON, it parses
//     (depth <= 32) to an object, every known field has its type and no
//     unknown field is present; what is read equals what was sent;
//   - a domain validator accepts only values inside the documented rules;
//   - every rejection becomes a 4xx problem document that is valid JSON and
//     names a field for each field error.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_utf8.h"
#include "fuzz/routes/route_bodies.h"
#include "http/detail/raw_request.h"
#include "http/json_body.h"
#include "http/problem.h"
#include "services/catalog/catalog_service.h"
#include "services/orders/orders_service.h"
#include "services/users/validation.h"
#include "storage/catalog_store.h"

namespace {

namespace bhttp = boost::beast::http;
using shopd::core::Errc;
using shopd::core::Error;

constexpr std::string_view kContentTypes[] = {
    "application/json",      "application/json; charset=utf-8", "Application/JSON",
    "application/json  ;x=y", "application/jsonx",              "text/plain",
    "",                       "application/problem+json",
};

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

bool IsJsonContentType(std::string_view ct) {
  std::string type(ct.substr(0, ct.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

// The body as the routes must see it, or nullopt when it is no JSON object.
std::optional<boost::json::object> Oracle(std::string_view content_type, std::string_view body) {
  if (!IsJsonContentType(content_type)) return std::nullopt;
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, {}, opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

bool OnlyKeys(const boost::json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto k : known) ok |= kv.key() == k;
    if (!ok) return false;
  }
  return true;
}

const boost::json::string* String(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::optional<int64_t> Int(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

// Every rejection is a 4xx problem document, valid JSON, one entry per field error.
void CheckRejection(const shopd::http::Request& req, const Error& e) {
  FUZZ_CHECK(e.code == Errc::kInvalidArgument || e.code == Errc::kUnsupportedMedia);
  const auto r = shopd::http::ProblemFromError(req, e);
  FUZZ_CHECK(r.status == 400 || r.status == 415 || r.status == 422);
  FUZZ_CHECK(r.status != 422 || !e.field_errors.empty());
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(r.body, ec);
  FUZZ_CHECK(!ec && doc.is_object());
  const auto* errors = doc.as_object().if_contains("errors");
  FUZZ_CHECK((errors != nullptr) == (r.status == 422));
  if (errors != nullptr) FUZZ_CHECK(errors->as_array().size() == e.field_errors.size());
}

void CheckParse(const shopd::http::Request& req, const std::optional<boost::json::object>& want) {
  auto got = shopd::http::ParseJsonObject(req);
  FUZZ_CHECK(got.has_value() == want.has_value());
  if (got) {
    FUZZ_CHECK(*got == *want);
  } else {
    CheckRejection(req, got.error());
  }
}

// POST /v1/auth/register and /login read their fields in the route lambda
// (services/users/http_routes.cc); this is the same FieldReader sequence.
void Register(const shopd::http::Request& req, const std::optional<boost::json::object>& want) {
  auto body = shopd::http::ParseJsonObject(req);
  if (!body) return CheckRejection(req, body.error());
  shopd::http::FieldReader in(*body);
  std::string email = in.RequiredString("email");
  std::string password = in.RequiredString("password");
  std::string name = in.RequiredString("name");
  in.RejectUnknown({"email", "password", "name"});
  const bool shape_ok = want && String(*want, "email") && String(*want, "password") && String(*want, "name") &&
                        OnlyKeys(*want, {"email", "password", "name"});
  auto err = in.Finish();
  FUZZ_CHECK(err.has_value() != shape_ok);
  if (err) return CheckRejection(req, *err);
  FUZZ_CHECK(email == *String(*want, "email") && password == *String(*want, "password") &&
             name == *String(*want, "name"));

  using namespace shopd::services;
  const std::string normalized = NormalizeEmail(email);
  FUZZ_CHECK(NormalizeEmail(normalized) == normalized);
  FUZZ_CHECK(Trim(normalized) == normalized);
  for (unsigned char c : normalized) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  if (!CheckEmail(normalized)) {
    FUZZ_CHECK(!normalized.empty() && normalized.size() <= 254);
    const size_t at = normalized.find('@');
    FUZZ_CHECK(at != std::string::npos && at > 0 && normalized.find('@', at + 1) == std::string::npos);
    const std::string_view domain = std::string_view(normalized).substr(at + 1);
    FUZZ_CHECK(domain.find('.') != std::string_view::npos && domain.front() != '.' && domain.back() != '.' &&
               domain.find("..") == std::string_view::npos);
    for (unsigned char c : normalized) FUZZ_CHECK(c > 0x20 && c != 0x7f && !std::strchr("<>\",;\\", c));
  }
  // The JSON parser let only UTF-8 through, so lengths are code points.
  FUZZ_CHECK(shopd::fuzz::IsValidUtf8(password) && Utf8Length(password) == CodePoints(password));
  if (!CheckPassword(password)) FUZZ_CHECK(CodePoints(password) >= 8);
  const std::string trimmed = Trim(name);
  FUZZ_CHECK(Trim(trimmed) == trimmed);
  if (!CheckName(trimmed)) {
    FUZZ_CHECK(!trimmed.empty());
    for (unsigned char c : trimmed) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  }
}

void Refresh(const shopd::http::Request& req, const std::optional<boost::json::object>& want) {
  auto token = shopd::fuzz::ReadRefreshTokenBody(req);
  const bool shape_ok = want && String(*want, "refresh_token") && OnlyKeys(*want, {"refresh_token"});
  FUZZ_CHECK(token.has_value() == shape_ok);
  if (!token) return CheckRejection(req, token.error());
  FUZZ_CHECK(*token == *String(*want, "refresh_token"));
}

void Product(const shopd::http::Request& req, const std::optional<boost::json::object>& want) {
  auto in = shopd::fuzz::ReadProductBody(req);
  const auto* description = want ? want->if_contains("description") : nullptr;
  const bool shape_ok = want && String(*want, "name") && (description == nullptr || description->is_string()) &&
                        Int(*want, "price_cents") && String(*want, "currency") && Int(*want, "stock") &&
                        OnlyKeys(*want, {"name", "description", "price_cents", "currency", "stock"});
  FUZZ_CHECK(in.has_value() == shape_ok);
  if (!in) return CheckRejection(req, in.error());
  FUZZ_CHECK(in->name == *String(*want, "name"));
  FUZZ_CHECK(in->description == (description ? std::string(description->get_string()) : std::string()));
  FUZZ_CHECK(in->price_cents == *Int(*want, "price_cents") && in->stock == *Int(*want, "stock"));
  FUZZ_CHECK(in->currency == *String(*want, "currency"));

  auto invalid = shopd::services::CatalogService::Validate(*in);
  const size_t name_len = CodePoints(in->name);
  bool currency_ok = in->currency.size() == 3;
  for (char c : in->currency) currency_ok &= c >= 'A' && c <= 'Z';
  const bool valid = name_len >= 1 && name_len <= 200 && CodePoints(in->description) <= 5000 &&
                     in->price_cents > 0 && in->price_cents <= 100'000'000'000 && currency_ok && in->stock >= 0 &&
                     in->stock <= 1'000'000'000;
  FUZZ_CHECK(invalid.has_value() != valid);
  if (invalid) return CheckRejection(req, *invalid);

  // What is stored is served back unchanged.
  shopd::storage::Product p{.id = "0190aaaa-0000-7000-8000-000000000000", .name = in->name,
                            .description = in->description, .price_cents = in->price_cents,
                            .currency = in->currency, .stock = in->stock, .created_at = 1, .updated_at = 2};
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(shopd::services::CatalogService::ProductJson(p), ec);
  FUZZ_CHECK(!ec && doc.is_object());
  const auto& o = doc.as_object();
  FUZZ_CHECK(*String(o, "name") == p.name && *String(o, "description") == p.description &&
             *Int(o, "price_cents") == p.price_cents && *String(o, "currency") == p.currency &&
             *Int(o, "stock") == p.stock);
}

void Order(const shopd::http::Request& req, const std::optional<boost::json::object>& want) {
  auto lines = shopd::fuzz::ReadOrderBody(req);
  const auto* items = want ? want->if_contains("items") : nullptr;
  bool shape_ok = want && items && items->is_array() && items->get_array().size() <= 50 && OnlyKeys(*want, {"items"});
  if (shape_ok) {
    for (const auto& item : items->get_array()) {
      shape_ok = shape_ok && item.is_object() && String(item.get_object(), "product_id") &&
                 Int(item.get_object(), "quantity") && OnlyKeys(item.get_object(), {"product_id", "quantity"});
    }
  }
  FUZZ_CHECK(lines.has_value() == shape_ok);
  if (!lines) {
    for (const auto& fe : lines.error().field_errors) {  // every error names the field or item
      FUZZ_CHECK(fe.field == "" || fe.field == "items" || fe.field.starts_with("items[") || want->contains(fe.field));
    }
    return CheckRejection(req, lines.error());
  }
  FUZZ_CHECK(lines->size() == items->get_array().size());
  for (size_t i = 0; i < lines->size(); ++i) {
    const auto& item = items->get_array()[i].get_object();
    FUZZ_CHECK((*lines)[i].product_id == *String(item, "product_id"));
    FUZZ_CHECK((*lines)[i].quantity == *Int(item, "quantity"));
  }

  auto invalid = shopd::services::OrdersService::Validate(*lines);
  bool valid = !lines->empty() && lines->size() <= 50;
  for (size_t i = 0; i < lines->size(); ++i) {
    const auto& l = (*lines)[i];
    valid = valid && !l.product_id.empty() && l.product_id.size() <= 64 && l.quantity >= 1 && l.quantity <= 1000;
    for (size_t j = 0; j < i; ++j) valid = valid && (*lines)[j].product_id != l.product_id;
  }
  FUZZ_CHECK(invalid.has_value() != valid);
  if (invalid) {
    for (const auto& fe : invalid->field_errors) FUZZ_CHECK(fe.field == "items" || fe.field.starts_with("items["));
    return CheckRejection(req, *invalid);
  }
  FUZZ_CHECK(shopd::services::OrdersService::RequestHash(*lines).size() == 64);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view content_type = kContentTypes[data[1] % std::size(kContentTypes)];
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  bhttp::request<bhttp::string_body> msg;
  if (!content_type.empty()) msg.set(bhttp::field::content_type, content_type);
  shopd::http::Request::Raw raw{&msg};
  shopd::http::Request req;
  req.Bind(&raw, shopd::http::Method::kPost, "POST", "/", body, "127.0.0.1");
  req.SetRequestId("fuzz");

  const auto want = Oracle(content_type, body);
  switch (data[0] % 5) {
    case 0: CheckParse(req, want); break;
    case 1: Register(req, want); break;
    case 2: Refresh(req, want); break;
    case 3: Product(req, want); break;
    case 4: Order(req, want); break;
  }
  return 0;
}

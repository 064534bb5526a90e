// http: reading JSON request bodies into validated fields. Depends on core.
//
// Turns the usual body defects into the right problem: wrong Content-Type ->
// 415, unparsable JSON -> 400 malformed-json, not an object / wrong types /
// missing or unknown fields -> 422 with one `errors[]` entry per field.
//
//   auto obj = ParseJsonObject(req);
//   if (!obj) return ProblemFromError(req, obj.error());
//   FieldReader in(*obj);
//   std::string email = in.RequiredString("email");
//   std::string name = in.RequiredString("name");
//   in.RejectUnknown({"email", "name"});
//   if (auto err = in.Finish()) return ProblemFromError(req, *err);
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/request.h"

namespace shopd::http {

core::Result<boost::json::object> ParseJsonObject(const Request& req);

class FieldReader {
 public:
  explicit FieldReader(const boost::json::object& obj) : obj_(obj) {}

  // "" (and a field error) when missing or not a string.
  std::string RequiredString(std::string_view field);
  // nullopt when absent; a field error when present but not a string.
  std::optional<std::string> OptionalString(std::string_view field);
  // 0 (and a field error) when missing or not an integer (1.5, "3", true are rejected).
  int64_t RequiredInt(std::string_view field);
  // The array's elements; empty (and a field error) when missing or not an array.
  const boost::json::array* RequiredArray(std::string_view field);
  void RejectUnknown(std::initializer_list<std::string_view> known);
  void AddError(std::string field, std::string message) { errors_.push_back({std::move(field), std::move(message)}); }
  bool HasError(std::string_view field) const;

  // The 422 error when any field failed, else nullopt.
  std::optional<core::Error> Finish() const;

 private:
  const boost::json::object& obj_;
  std::vector<core::FieldError> errors_;
};

}  // namespace shopd::http

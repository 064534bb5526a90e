// core: error values shared by every module. Depends on nothing.
//
// Expected failures travel as values: a function that can fail returns
// `Result<T>`, and the HTTP edge turns an `Error` into an RFC 9457 problem in
// one place (http/problem.cc). `message` is safe to show a client; `internal`
// is for the log only.
//
//   Result<User> FindUser(std::string_view email);
//   if (!r) return r.error();           // propagate
//   if (r.error().code == Errc::kNotFound) ...
#pragma once

#include <boost/system/result.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace shopd::core {

enum class Errc {
  kInvalidArgument,    // 400 (or 422 with field errors)
  kUnauthenticated,    // 401
  kPermissionDenied,   // 403
  kNotFound,           // 404
  kConflict,           // 409
  kUnprocessable,      // 422
  kUnsupportedMedia,   // 415
  kRateLimited,        // 429
  kUnavailable,        // 503: overloaded or a dependency is down
  kInternal,           // 500
};

struct FieldError {
  std::string field;
  std::string message;
};

struct Error {
  Errc code = Errc::kInternal;
  std::string message;                 // client-facing
  std::vector<FieldError> field_errors;  // validation details, client-facing
  std::string internal;                // log-only detail
  int retry_after_s = 0;               // for kRateLimited / kUnavailable
  std::string type;                    // optional problem slug, e.g. "invalid-credentials"

  static Error Invalid(std::string msg, std::vector<FieldError> fields = {}) {
    return Error{Errc::kInvalidArgument, std::move(msg), std::move(fields), {}, 0, {}};
  }
  Error&& WithType(std::string slug) && {
    type = std::move(slug);
    return std::move(*this);
  }
  static Error Make(Errc code, std::string msg, std::string internal = {}) {
    return Error{code, std::move(msg), {}, std::move(internal), 0, {}};
  }
};

template <class T>
using Result = boost::system::result<T, Error>;

// Found by argument-dependent lookup, so Result<T>::value() throws a
// std::runtime_error carrying the message when it holds an error.
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message + (e.internal.empty() ? "" : ": " + e.internal));
}

// The message of a caught exception, for logs ("unknown exception" when it
// is not a std::exception).
inline std::string ExceptionText(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception";
}

}  // namespace shopd::core


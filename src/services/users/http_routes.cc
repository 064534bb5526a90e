#include "services/users/http_routes.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>


#include "core/time_format.h"
#include "http/json_body.h"
#include "http/problem.h"
#include "http/router.h"
#include "services/users/users_service.h"

namespace shopd::services {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;


std::string UserJson(const storage::User& u) {
  return boost::json::serialize(boost::json::object{{"id", u.id},
                                                    {"email", u.email},
                                                    {"name", u.name},
                                                    {"role", u.role},
                                                    {"created_at", core::Rfc3339(u.created_at)}});
}

Response TokensJson(const TokenPair& t) {
  return Response::Json(200, boost::json::serialize(boost::json::object{{"access_token", t.access_token},
                                                                         {"refresh_token", t.refresh_token},
                                                                         {"token_type", "Bearer"},
                                                                         {"expires_in", t.expires_in}}));
}

// Reads {"refresh_token": "..."}, the body of refresh.
core::Result<std::string> ReadRefreshToken(const Request& req) {
  auto body = http::ParseJsonObject(req);
  if (!body) return body.error();
  http::FieldReader in(*body);
  std::string token = in.RequiredString("refresh_token");
  in.RejectUnknown({"refresh_token"});
  if (auto err = in.Finish()) return *err;
  return token;
}

struct LogoutRequest {
  std::string refresh_token;
  bool all = false;  // end every session of the token's user
};

// Reads {"refresh_token": "...", "all": true|false}; `all` is optional.
core::Result<LogoutRequest> ReadLogout(const Request& req) {
  auto body = http::ParseJsonObject(req);
  if (!body) return body.error();
  http::FieldReader in(*body);
  LogoutRequest out;
  out.refresh_token = in.RequiredString("refresh_token");
  if (auto it = body->find("all"); it != body->end()) {
    if (it->value().is_bool())
      out.all = it->value().get_bool();
    else
      in.AddError("all", "must be a boolean");
  }
  in.RejectUnknown({"refresh_token", "all"});
  if (auto err = in.Finish()) return *err;
  return out;
}

}  // namespace

void RegisterUserRoutes(http::Router& router, UsersService& users) {
  // Credentials are a few hundred bytes: a larger body is an attack on the
  // parser or the hash pool, refused before it is read.
  constexpr int64_t kAuthBodyBytes = 16 << 10;
  const http::RouteOptions auth_route{.requires_auth = false, .no_store = true, .max_body_bytes = kAuthBodyBytes};
  const http::RouteOptions user_route{.requires_auth = true, .no_store = true};

  router.Post("/v1/auth/register", [&users](Request& req) -> awaitable<Response> {
    auto body = http::ParseJsonObject(req);
    if (!body) co_return http::ProblemFromError(req, body.error());
    http::FieldReader in(*body);
    RegisterInput input{in.RequiredString("email"), in.RequiredString("password"), in.RequiredString("name")};
    in.RejectUnknown({"email", "password", "name"});
    if (auto err = in.Finish()) co_return http::ProblemFromError(req, *err);
    auto user = co_await users.Register(std::move(input), std::string(req.client_key()));
    if (!user) co_return http::ProblemFromError(req, user.error());
    Response res = Response::Json(201, UserJson(*user));
    res.SetHeader("Location", "/v1/users/" + user->id);
    co_return res;
  }, auth_route);

  router.Post("/v1/auth/login", [&users](Request& req) -> awaitable<Response> {
    auto body = http::ParseJsonObject(req);
    if (!body) co_return http::ProblemFromError(req, body.error());
    http::FieldReader in(*body);
    std::string email = in.RequiredString("email");
    std::string password = in.RequiredString("password");
    in.RejectUnknown({"email", "password"});
    if (auto err = in.Finish()) co_return http::ProblemFromError(req, *err);
    auto tokens = co_await users.Login(std::move(email), std::move(password), std::string(req.client_key()));
    if (!tokens) co_return http::ProblemFromError(req, tokens.error());
    co_return TokensJson(*tokens);
  }, auth_route);

  router.Post("/v1/auth/refresh", [&users](Request& req) -> awaitable<Response> {
    auto token = ReadRefreshToken(req);
    if (!token) co_return http::ProblemFromError(req, token.error());
    auto tokens = co_await users.Refresh(std::move(*token), std::string(req.client_key()));
    if (!tokens) co_return http::ProblemFromError(req, tokens.error());
    co_return TokensJson(*tokens);
  }, auth_route);

  router.Post("/v1/auth/logout", [&users](Request& req) -> awaitable<Response> {
    auto logout = ReadLogout(req);
    if (!logout) co_return http::ProblemFromError(req, logout.error());
    auto done = co_await users.Logout(std::move(logout->refresh_token), logout->all, std::string(req.client_key()));
    if (!done) co_return http::ProblemFromError(req, done.error());
    co_return Response::Empty(204);
  }, auth_route);

  router.Get("/v1/users/me", http::AsyncHandler([&users](Request& req) -> awaitable<Response> {
    auto user = co_await users.GetMe(*req.principal());
    if (!user) co_return http::ProblemFromError(req, user.error());
    co_return Response::Json(200, UserJson(*user));
  }), user_route);

  router.Get("/v1/users/{id}", http::AsyncHandler([&users](Request& req) -> awaitable<Response> {
    auto user = co_await users.GetUser(*req.principal(), std::string(req.PathParam("id")));
    if (!user) co_return http::ProblemFromError(req, user.error());
    co_return Response::Json(200, UserJson(*user));
  }), user_route);
}

}  // namespace shopd::services

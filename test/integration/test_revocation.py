"""Logout everywhere, token versions, refresh/logout limits and the bootstrap admin, over real sockets."""

import time
import unittest

from harness import (DEFAULT_PASSWORD, ServerStartError, ShopdServer, ShopdTestCase, bearer, decode_jwt,
                     unique_email)

ADMIN_PASSWORD = "admin password 123"
# Well-formed (43 base64url characters) but never issued.
UNKNOWN_TOKEN = "x" * 43


def logout_all(srv, refresh_token):
    return srv.request("POST", "/v1/auth/logout", body={"refresh_token": refresh_token, "all": True})


class LogoutEverywhereTest(ShopdTestCase):
    server_options = {"registrations-per-ip": 1000, "login-failures-per-ip": 1000}

    def test_logout_all_revokes_every_session_and_access_token(self):
        u = self.server.create_user()
        st, _, _, laptop = self.server.login(u["email"], u["password"])
        self.assertEqual(st, 200)
        sessions = [{"access": u["access"], "refresh": u["refresh"]},
                    {"access": laptop["access_token"], "refresh": laptop["refresh_token"]}]
        for s in sessions:
            self.assertStatus(self.server.me(s["access"]), 200)
        self.assertIn("ver", decode_jwt(u["access"])[1])

        self.assertStatus(logout_all(self.server, u["refresh"]), 204)
        for s in sessions:
            # Every authenticated route refuses the old access tokens at once (one process).
            self.assertProblem(self.server.me(s["access"]), 401, "token-revoked")
            self.assertProblem(self.server.request("GET", "/v1/orders", headers=bearer(s["access"])),
                               401, "token-revoked")
            self.assertProblem(self.server.refresh(s["refresh"]), 401, "invalid-refresh-token")
        # Logging in again works, at the raised version.
        st, _, _, fresh = self.server.login(u["email"], u["password"])
        self.assertEqual(st, 200)
        self.assertGreater(decode_jwt(fresh["access_token"])[1]["ver"], decode_jwt(u["access"])[1]["ver"])
        self.assertStatus(self.server.me(fresh["access_token"]), 200)
        st, _, _, rotated = self.server.refresh(fresh["refresh_token"])
        self.assertEqual(st, 200)
        self.assertStatus(self.server.me(rotated["access_token"]), 200)

    def test_logout_all_with_a_dead_token_is_refused(self):
        u = self.server.create_user()
        self.assertProblem(logout_all(self.server, UNKNOWN_TOKEN), 401, "invalid-refresh-token")
        self.assertStatus(self.server.logout(u["refresh"]), 204)
        self.assertProblem(logout_all(self.server, u["refresh"]), 401, "invalid-refresh-token")
        # A plain logout of an unknown or ended token is still a success.
        self.assertStatus(self.server.logout(UNKNOWN_TOKEN), 204)
        self.assertStatus(self.server.logout(u["refresh"]), 204)

    def test_plain_logout_ends_one_session_only(self):
        u = self.server.create_user()
        st, _, _, other = self.server.login(u["email"], u["password"])
        self.assertEqual(st, 200)
        self.assertStatus(self.server.request("POST", "/v1/auth/logout",
                                              body={"refresh_token": u["refresh"], "all": False}), 204)
        self.assertProblem(self.server.refresh(u["refresh"]), 401, "invalid-refresh-token")
        self.assertStatus(self.server.refresh(other["refresh_token"]), 200)
        self.assertStatus(self.server.me(u["access"]), 200)  # access tokens live out their 15 minutes

    def test_logout_body_is_validated(self):
        u = self.server.create_user()
        for body in ({"refresh_token": u["refresh"], "all": "yes"}, {"refresh_token": u["refresh"], "all": 1},
                     {"refresh_token": u["refresh"], "everywhere": True}, {"all": True}):
            with self.subTest(body=body):
                self.assertValidationError(self.server.request("POST", "/v1/auth/logout", body=body))
        self.assertStatus(self.server.me(u["access"]), 200)


class CrossProcessRevocationTest(unittest.TestCase):
    """With several processes, another process's cached user may accept an old token for at most
    --user-cache-ttl-s."""

    def test_every_process_refuses_within_the_cache_ttl(self):
        with ShopdServer(processes=2, options={"user-cache-ttl-s": 1}) as srv:
            email = unique_email()
            self.assertEqual(srv.register(email)[0], 201)
            st, _, _, pair = srv.login(email)
            self.assertEqual(st, 200)
            # Warm both processes' caches (new connections spread over the processes).
            for _ in range(20):
                self.assertEqual(srv.me(pair["access_token"])[0], 200)
            self.assertEqual(logout_all(srv, pair["refresh_token"])[0], 204)
            time.sleep(1.5)  # past the TTL: the bound this test states
            for i in range(30):
                st, _, body, _ = srv.me(pair["access_token"])
                self.assertEqual(st, 401, f"request {i} accepted a revoked token past the cache TTL: {body!r}")


class TokenRequestLimitTest(ShopdTestCase):
    server_options = {"token-requests-per-ip": 4}

    def test_refresh_and_logout_share_a_per_address_budget(self):
        for _ in range(3):
            self.assertProblem(self.server.refresh(UNKNOWN_TOKEN), 401, "invalid-refresh-token")
        self.assertStatus(self.server.logout(UNKNOWN_TOKEN), 204)
        for resp in (self.server.refresh(UNKNOWN_TOKEN), self.server.logout(UNKNOWN_TOKEN)):
            self.assertProblem(resp, 429, "rate-limited")
            self.assertGreaterEqual(int(resp[1].get("retry-after", "0")), 1)
        # Oversized and malformed tokens are answered before the limiter, as before.
        self.assertValidationError(self.server.refresh("r" * 1000), ["refresh_token"])


class BootstrapAdminTest(unittest.TestCase):
    def test_an_existing_non_admin_account_is_never_promoted(self):
        email = unique_email("owner")
        with ShopdServer() as first:
            self.assertEqual(first.register(email)[0], 201)
            data_dir = first.data_dir
            first.stop()
            srv = ShopdServer(data_dir=data_dir, env={"SHOPD_ADMIN_EMAIL": email,
                                                      "SHOPD_ADMIN_PASSWORD": ADMIN_PASSWORD})
            try:
                with self.assertRaises(ServerStartError) as ctx:
                    srv.start()
                message = str(ctx.exception)
                self.assertIn("exited with code 1", message)
                self.assertIn("never promotes", message)
                self.assertIn("Set SHOPD_ADMIN_EMAIL to an address without an account", message)
            finally:
                srv.close()
            # The account is untouched: same role, same password.
            first.start()
            st, _, _, tokens = first.login(email, DEFAULT_PASSWORD)
            self.assertEqual(st, 200)
            self.assertEqual(decode_jwt(tokens["access_token"])[1]["role"], "user")
            st, _, _, bad = first.login(email, ADMIN_PASSWORD)
            self.assertEqual(st, 401)

    def test_a_new_admin_password_revokes_the_admins_sessions(self):
        email = unique_email("root")
        env = {"SHOPD_ADMIN_EMAIL": email, "SHOPD_ADMIN_PASSWORD": ADMIN_PASSWORD}
        with ShopdServer(env=env) as srv:
            st, _, _, old = srv.login(email, ADMIN_PASSWORD)
            self.assertEqual(st, 200)
            self.assertEqual(decode_jwt(old["access_token"])[1]["role"], "admin")
            # Same password on restart: sessions survive.
            srv.restart()
            self.assertEqual(srv.me(old["access_token"])[0], 200)
            st, _, _, kept = srv.refresh(old["refresh_token"])
            self.assertEqual(st, 200)
            # A new password: every session granted on the old one ends.
            srv.stop()
            srv.extra_env["SHOPD_ADMIN_PASSWORD"] = "a brand new password"
            srv.start()
            st, _, body, _ = srv.me(kept["access_token"])
            self.assertEqual(st, 401, body)
            self.assertEqual(srv.refresh(kept["refresh_token"])[0], 401)
            self.assertEqual(srv.login(email, ADMIN_PASSWORD)[0], 401)
            self.assertEqual(srv.login(email, "a brand new password")[0], 200)


if __name__ == "__main__":
    unittest.main()

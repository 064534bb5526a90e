"""Register / login / refresh rotation / logout / user lookup over real sockets."""

import json
import time
import unittest

from harness import (DEFAULT_PASSWORD, ShopdTestCase, b64url, bearer, decode_jwt, forge_jwt,
                     unique_email, verify_hs256)

ADMIN_EMAIL = "root-admin@example.com"
ADMIN_PASSWORD = "admin password 123"
SECRET_PASSWORD = "Pw-Secret-7f3a9c-unique"


class AuthFlowTest(ShopdTestCase):
    # Generous per-IP limits: this suite registers many users from 127.0.0.1.
    server_options = {"registrations-per-ip": 1000, "login-failures-per-ip": 1000}
    server_env = {"SHOPD_ADMIN_EMAIL": ADMIN_EMAIL, "SHOPD_ADMIN_PASSWORD": ADMIN_PASSWORD}

    def setUp(self):
        self.seen_bodies = []

    def call(self, method, path, **kw):
        resp = self.server.request(method, path, **kw)
        self.seen_bodies.append(resp[2])
        return resp

    def assertUserShape(self, doc, email, name):
        self.assertIsInstance(doc, dict)
        self.assertEqual(set(doc), {"id", "email", "name", "role", "created_at"}, doc)
        self.assertEqual(doc["email"], email)
        self.assertEqual(doc["name"], name)
        self.assertIn(doc["role"], ("user", "admin"))
        # The contract does not fix the format: an RFC 3339 string or integer Unix seconds.
        created = doc["created_at"]
        if isinstance(created, str):
            self.assertRegex(created, r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
        else:
            self.assertIsInstance(created, int)
            self.assertLessEqual(abs(created - time.time()), 3600, "created_at is not Unix seconds of now")

    def assertTokenPair(self, resp):
        self.assertStatus(resp, 200)
        st, headers, body, doc = resp
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertEqual(set(doc), {"access_token", "refresh_token", "token_type", "expires_in"}, doc)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["expires_in"], 900)
        self.assertIsInstance(doc["access_token"], str)
        self.assertIsInstance(doc["refresh_token"], str)
        self.assertTrue(doc["refresh_token"])
        self.assertEqual(headers.get("cache-control", "").lower(), "no-store", headers)
        return doc

    def test_full_flow(self):
        email = unique_email("flow")
        name = "Flow Tester"
        reg = self.call("POST", "/v1/auth/register",
                        body={"email": email, "password": SECRET_PASSWORD, "name": name})
        self.assertStatus(reg, 201)
        user = reg[3]
        self.assertUserShape(user, email, name)
        self.assertEqual(user["role"], "user")

        pair1 = self.assertTokenPair(self.call("POST", "/v1/auth/login",
                                               body={"email": email, "password": SECRET_PASSWORD}))
        header, claims = decode_jwt(pair1["access_token"])
        self.assertEqual(header.get("alg"), "HS256")
        self.assertTrue({"sub", "role", "jti", "iat", "exp"} <= set(claims), claims)
        self.assertEqual(str(claims["sub"]), str(user["id"]))
        self.assertEqual(claims["role"], "user")
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        self.assertLessEqual(abs(claims["iat"] - time.time()), 120)
        self.assertTrue(verify_hs256(pair1["access_token"]), "token not signed with SHOPD_JWT_SECRET")

        me = self.call("GET", "/v1/users/me", headers=bearer(pair1["access_token"]))
        self.assertStatus(me, 200)
        self.assertEqual(me[3], user)
        self.assertEqual(me[1].get("cache-control", "").lower(), "no-store")

        # Rotation: the old refresh token is spent, the new pair works.
        pair2 = self.assertTokenPair(self.call("POST", "/v1/auth/refresh",
                                               body={"refresh_token": pair1["refresh_token"]}))
        self.assertNotEqual(pair2["refresh_token"], pair1["refresh_token"])
        self.assertNotEqual(pair2["access_token"], pair1["access_token"])
        self.assertStatus(self.call("GET", "/v1/users/me", headers=bearer(pair2["access_token"])), 200)

        # Reuse of the spent token: 401 and the whole family is revoked.
        reuse = self.call("POST", "/v1/auth/refresh", body={"refresh_token": pair1["refresh_token"]})
        self.assertProblem(reuse, 401, "invalid-refresh-token")
        newest = self.call("POST", "/v1/auth/refresh", body={"refresh_token": pair2["refresh_token"]})
        self.assertProblem(newest, 401, "invalid-refresh-token")

        # A fresh login starts a new family; logout revokes it.
        pair3 = self.assertTokenPair(self.call("POST", "/v1/auth/login",
                                               body={"email": email, "password": SECRET_PASSWORD}))
        out = self.call("POST", "/v1/auth/logout", body={"refresh_token": pair3["refresh_token"]})
        self.assertStatus(out, 204)
        self.assertEqual(out[2], b"")
        after = self.call("POST", "/v1/auth/refresh", body={"refresh_token": pair3["refresh_token"]})
        self.assertProblem(after, 401, "invalid-refresh-token")

        # Unknown refresh token.
        bogus = self.call("POST", "/v1/auth/refresh", body={"refresh_token": "not-a-real-token"})
        self.assertProblem(bogus, 401, "invalid-refresh-token")

        self.assertPasswordNeverReturned(SECRET_PASSWORD)

    def test_refresh_rotation_chain(self):
        u = self.server.create_user()
        rt = u["refresh"]
        for _ in range(3):
            pair = self.assertTokenPair(self.server.refresh(rt))
            self.assertNotEqual(pair["refresh_token"], rt)
            rt = pair["refresh_token"]
        self.assertStatus(self.server.me(pair["access_token"]), 200)

    def test_logout_then_refresh_rejected(self):
        u = self.server.create_user()
        self.assertStatus(self.server.logout(u["refresh"]), 204)
        self.assertProblem(self.server.refresh(u["refresh"]), 401, "invalid-refresh-token")

    def test_email_normalised(self):
        local = unique_email("MiXeD")
        st, _, _, doc = self.server.register(f"  {local.upper()}  ", DEFAULT_PASSWORD, "  Spaced Name  ")
        self.assertEqual(st, 201, doc)
        self.assertEqual(doc["email"], local.lower())
        self.assertEqual(doc["name"], "Spaced Name")
        self.assertTokenPair(self.server.login(local.lower()))

    def test_duplicate_email_conflict(self):
        email = unique_email("dup")
        self.assertStatus(self.server.register(email), 201)
        self.assertProblem(self.server.register(email), 409, "conflict")
        self.assertProblem(self.server.register(email.upper()), 409, "conflict")
        self.assertProblem(self.server.register(f"  {email}\t"), 409, "conflict")
        mixed = email[0].upper() + email[1:4] + email[4:].upper()
        self.assertProblem(self.server.register(f" {mixed} "), 409, "conflict")

    def test_wrong_password_and_unknown_email_identical(self):
        u = self.server.create_user()
        wrong = self.call("POST", "/v1/auth/login", body={"email": u["email"], "password": "not the password"})
        unknown = self.call("POST", "/v1/auth/login",
                            body={"email": unique_email("nobody"), "password": "not the password"})
        d1 = self.assertProblem(wrong, 401, "invalid-credentials")
        d2 = self.assertProblem(unknown, 401, "invalid-credentials")
        self.assertNotEqual(d1["request_id"], d2["request_id"])
        d1 = dict(d1)
        d2 = dict(d2)
        d1.pop("request_id")
        d2.pop("request_id")
        self.assertEqual(d1, d2)
        # Same headers apart from the per-request ones.
        volatile = {"x-request-id", "date", "content-length"}
        h1 = {k: v for k, v in wrong[1].items() if k not in volatile}
        h2 = {k: v for k, v in unknown[1].items() if k not in volatile}
        self.assertEqual(h1, h2)
        self.assertPasswordNeverReturned("not the password")

    def test_password_absent_everywhere(self):
        pw = "Another-Secret-Pw-99"
        email = unique_email("pw")
        self.call("POST", "/v1/auth/register", body={"email": email, "password": pw, "name": "P"})
        self.call("POST", "/v1/auth/register", body={"email": email, "password": pw, "name": "P"})  # 409
        self.call("POST", "/v1/auth/register", body={"email": email, "password": pw, "name": ""})   # 422
        tokens = self.call("POST", "/v1/auth/login", body={"email": email, "password": pw})[3]
        me = self.call("GET", "/v1/users/me", headers=bearer(tokens["access_token"]))
        self.call("GET", f"/v1/users/{me[3]['id']}", headers=bearer(tokens["access_token"]))
        self.assertPasswordNeverReturned(pw)
        # Nothing that looks like a stored hash either.
        for body in self.seen_bodies:
            self.assertNotIn(b"$argon2", body)
            self.assertNotIn(b"password_hash", body.lower())
        for line in self.server.stdout_text().splitlines() + self.server.stderr_text().splitlines():
            self.assertNotIn(pw, line, "password leaked into the logs")

    def assertPasswordNeverReturned(self, pw):
        def keys(obj):
            if isinstance(obj, dict):
                for k, v in obj.items():
                    yield k
                    yield from keys(v)
            elif isinstance(obj, list):
                for v in obj:
                    yield from keys(v)
        for body in self.seen_bodies:
            self.assertNotIn(pw.encode(), body)
            try:
                doc = json.loads(body) if body else None
            except ValueError:
                doc = None
            for k in keys(doc):
                self.assertNotIn("password", k.lower(), f"password-like key in {body[:300]!r}")

    def test_get_user_by_id_self_other_admin(self):
        alice = self.server.create_user(unique_email("alice"))
        bob = self.server.create_user(unique_email("bob"))

        self_view = self.server.request("GET", f"/v1/users/{alice['id']}", headers=bearer(alice["access"]))
        self.assertStatus(self_view, 200)
        self.assertEqual(self_view[3], alice["user"])
        self.assertEqual(self_view[1].get("cache-control", "").lower(), "no-store")

        other = self.server.request("GET", f"/v1/users/{bob['id']}", headers=bearer(alice["access"]))
        self.assertProblem(other, 404, "not-found")
        # Indistinguishable from a non-existing id.
        missing = self.server.request("GET", "/v1/users/00000000000000000000000000000000",
                                      headers=bearer(alice["access"]))
        self.assertProblem(missing, 404, "not-found")
        self.assertEqual({k: v for k, v in other[3].items() if k not in ("request_id", "detail")},
                         {k: v for k, v in missing[3].items() if k not in ("request_id", "detail")})

        unauth = self.server.request("GET", f"/v1/users/{alice['id']}")
        self.assertUnauthorized(unauth)

        st, _, _, tokens = self.server.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        self.assertEqual(st, 200, tokens)
        admin_token = tokens["access_token"]
        self.assertEqual(decode_jwt(admin_token)[1].get("role"), "admin")
        admin_me = self.server.me(admin_token)
        self.assertStatus(admin_me, 200)
        self.assertEqual(admin_me[3]["role"], "admin")
        self.assertEqual(admin_me[3]["email"], ADMIN_EMAIL)
        for u in (alice, bob):
            r = self.server.request("GET", f"/v1/users/{u['id']}", headers=bearer(admin_token))
            self.assertStatus(r, 200)
            self.assertEqual(r[3], u["user"])
            self.assertNotIn(b"password", r[2].lower())
        r = self.server.request("GET", "/v1/users/00000000000000000000000000000000", headers=bearer(admin_token))
        self.assertProblem(r, 404, "not-found")

    def test_forged_role_claim_rejected(self):
        alice = self.server.create_user(unique_email("mallory"))
        bob = self.server.create_user(unique_email("victim"))
        header, claims = decode_jwt(alice["access"])
        h64, p64, sig = alice["access"].split(".")
        self.assertEqual(claims["role"], "user")

        escalated = dict(claims, role="admin")
        p_forged = b64url(json.dumps(escalated, separators=(",", ":")))
        # 1. Original signature kept, payload changed.
        tampered = f"{h64}.{p_forged}.{sig}"
        # 2. Re-signed with a guessed secret.
        guessed = forge_jwt(escalated, secret="secret")
        # 3. Re-signed with an empty secret.
        empty = forge_jwt(escalated, secret="")
        for token in (tampered, guessed, empty):
            with self.subTest(token=token[:40]):
                self.assertUnauthorized(self.server.request("GET", f"/v1/users/{bob['id']}",
                                                            headers=bearer(token)))
                self.assertUnauthorized(self.server.me(token))
        # The genuine token still only sees its owner.
        self.assertProblem(self.server.request("GET", f"/v1/users/{bob['id']}", headers=bearer(alice["access"])),
                           404, "not-found")

    def test_register_response_shape(self):
        email = unique_email("shape")
        st, headers, body, doc = self.server.register(email, DEFAULT_PASSWORD, "Shape")
        self.assertEqual(st, 201, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        self.assertUserShape(doc, email, "Shape")
        self.assertEqual(headers.get("cache-control", "").lower(), "no-store")


if __name__ == "__main__":
    unittest.main()

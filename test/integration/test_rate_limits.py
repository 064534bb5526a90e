"""Failed-login and registration rate limits (429 + Retry-After)."""

import unittest

from harness import DEFAULT_PASSWORD, ShopdTestCase, unique_email


class LoginRateLimitTest(ShopdTestCase):
    # Every request comes from 127.0.0.1, so the (account, address) budget is the one that bites.
    server_options = {"login-failures-per-account-ip": 3, "login-failures-per-ip": 100}

    def assertRateLimited(self, resp):
        self.assertProblem(resp, 429, "rate-limited")
        retry = resp[1].get("retry-after")
        self.assertIsNotNone(retry, resp[1])
        self.assertRegex(retry, r"^\d+$", "Retry-After must be delta-seconds")
        self.assertGreater(int(retry), 0)
        self.assertLessEqual(int(retry), 60)

    def test_account_locked_after_failures(self):
        victim = unique_email("victim")
        other = unique_email("other")
        self.assertStatus(self.server.register(victim), 201)
        self.assertStatus(self.server.register(other), 201)

        for i in range(3):
            with self.subTest(attempt=i + 1):
                self.assertProblem(self.server.login(victim, "wrong password!"), 401, "invalid-credentials")
        # 4th attempt: limited, even with the right password.
        self.assertRateLimited(self.server.login(victim, DEFAULT_PASSWORD))
        self.assertRateLimited(self.server.login(victim, "wrong password!"))
        # Same account, differently written.
        self.assertRateLimited(self.server.login(f"  {victim.upper()} ", DEFAULT_PASSWORD))

        # Another account is not affected.
        st, _, body, doc = self.server.login(other, DEFAULT_PASSWORD)
        self.assertEqual(st, 200, body)
        self.assertIn("access_token", doc)

    def test_successful_logins_do_not_count(self):
        email = unique_email("happy")
        self.assertStatus(self.server.register(email), 201)
        for _ in range(6):
            self.assertStatus(self.server.login(email, DEFAULT_PASSWORD), 200)


class IpRateLimitTest(ShopdTestCase):
    server_options = {"login-failures-per-account-ip": 100, "login-failures-per-ip": 4}

    def test_failures_across_accounts_limited_per_ip(self):
        for i in range(4):
            self.assertProblem(self.server.login(unique_email("ghost"), "wrong password!"), 401,
                               "invalid-credentials")
        resp = self.server.login(unique_email("ghost"), "wrong password!")
        self.assertProblem(resp, 429, "rate-limited")
        self.assertGreater(int(resp[1].get("retry-after", "0")), 0)


class RegistrationRateLimitTest(ShopdTestCase):
    server_options = {"registrations-per-ip": 2}

    def test_third_registration_limited(self):
        first = unique_email("r1")
        self.assertStatus(self.server.register(first), 201)
        self.assertStatus(self.server.register(unique_email("r2")), 201)
        resp = self.server.register(unique_email("r3"))
        self.assertProblem(resp, 429, "rate-limited")
        retry = resp[1].get("retry-after", "")
        self.assertRegex(retry, r"^\d+$")
        self.assertGreater(int(retry), 0)
        # Logins are a different limit.
        self.assertStatus(self.server.login(first), 200)


if __name__ == "__main__":
    unittest.main()

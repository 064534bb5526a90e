"""JWT key handling: SHOPD_JWT_SECRET as raw key, or a generated key kept in <data-dir>/jwt_secret."""

import os
import shutil
import stat
import tempfile
import time
import unittest

from harness import (TEST_JWT_SECRET, ShopdServer, decode_jwt, forge_jwt, unique_email,
                     verify_hs256)


class GeneratedSecretTest(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="shopd-secret-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)

    def test_generated_secret_file_and_restart(self):
        secret_path = os.path.join(self.data_dir, "jwt_secret")
        with ShopdServer(jwt_secret=None, data_dir=self.data_dir) as srv:
            self.assertTrue(os.path.isfile(secret_path), f"{secret_path} not created")
            mode = stat.S_IMODE(os.stat(secret_path).st_mode)
            self.assertEqual(mode, 0o600, f"jwt_secret mode is {oct(mode)}")
            with open(secret_path, "rb") as f:
                key_before = f.read()
            self.assertGreaterEqual(len(key_before), 32, "generated key is too short")

            user = srv.create_user(unique_email("persist"))
            self.assertEqual(srv.me(user["access"])[0], 200)
            # The test secret is not the key in use.
            self.assertFalse(verify_hs256(user["access"], TEST_JWT_SECRET))
            _, claims = decode_jwt(user["access"])
            now = int(time.time())
            forged = forge_jwt(dict(claims, iat=now, exp=now + 600), secret=TEST_JWT_SECRET)
            st, headers, _, _ = srv.me(forged)
            self.assertEqual(st, 401)

            self.assertEqual(srv.stop(), 0, srv.log_tail())
            srv.start()  # same data dir, still no SHOPD_JWT_SECRET

            with open(secret_path, "rb") as f:
                self.assertEqual(f.read(), key_before, "jwt_secret changed across a restart")
            self.assertEqual(stat.S_IMODE(os.stat(secret_path).st_mode), 0o600)
            st, _, body, doc = srv.me(user["access"])
            self.assertEqual(st, 200, body)
            self.assertEqual(doc["email"], user["email"])
            # Refresh tokens survive the restart too (they live in the data dir).
            st, _, body, pair = srv.refresh(user["refresh"])
            self.assertEqual(st, 200, body)
            self.assertEqual(srv.me(pair["access_token"])[0], 200)

    def test_different_data_dirs_get_different_keys(self):
        other = tempfile.mkdtemp(prefix="shopd-secret-b-")
        self.addCleanup(shutil.rmtree, other, True)
        with ShopdServer(jwt_secret=None, data_dir=self.data_dir) as a:
            ua = a.create_user(unique_email("a"))
        with ShopdServer(jwt_secret=None, data_dir=other) as b:
            b.create_user(ua["email"])
            # A token minted with a's key is not valid on b.
            self.assertEqual(b.me(ua["access"])[0], 401)
        with open(os.path.join(self.data_dir, "jwt_secret"), "rb") as fa, \
                open(os.path.join(other, "jwt_secret"), "rb") as fb:
            self.assertNotEqual(fa.read(), fb.read())


class EnvSecretTest(unittest.TestCase):
    def test_env_secret_is_the_raw_key(self):
        secret = "raw-env-secret-\u00e9-with-unicode-and-length-40"
        with ShopdServer(jwt_secret=secret) as srv:
            user = srv.create_user()
            self.assertTrue(verify_hs256(user["access"], secret.encode("utf-8")),
                            "access token is not HS256 over the raw bytes of SHOPD_JWT_SECRET")
            _, claims = decode_jwt(user["access"])
            now = int(time.time())
            token = forge_jwt(dict(claims, iat=now, exp=now + 60), secret=secret.encode("utf-8"))
            self.assertEqual(srv.me(token)[0], 200)

    def test_tokens_survive_restart_with_env_secret(self):
        with ShopdServer() as srv:
            user = srv.create_user()
            srv.restart()
            self.assertEqual(srv.me(user["access"])[0], 200)


if __name__ == "__main__":
    unittest.main()

"""Secrets at rest: the JWT key (SHOPD_JWT_SECRET and its encodings, or a key generated
into <data-dir>/jwt_secret), the data dir's ownership and mode, and the argon2 floor."""

import base64
import os
import shutil
import stat
import tempfile
import time
import unittest

from harness import (DEFAULT_OPTIONS, TEST_JWT_SECRET, ShopdServer, embedded_only, decode_jwt, forge_jwt, free_port,
                     run_cli, unique_email, verify_hs256)

FAST_HASHING = ["--argon2-memory-kib", "1024", "--argon2-iterations", "1",
                "--insecure-fast-hashing-for-tests", "true"]
# The harness's options without the test-only opt-out and its fast parameters.
PRODUCTION_HASHING = {"argon2-memory-kib": None, "argon2-iterations": None,
                      "insecure-fast-hashing-for-tests": None}


def serve_refused(data_dir, *extra, env=None):
    """Runs `shopd serve` expected to refuse to start; returns (exit code, stderr text)."""
    args = ["serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", data_dir] + list(extra)
    res = run_cli(args, timeout=20, env=env)
    return res.returncode, res.stderr.decode("utf-8", "replace")


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@embedded_only("a replica never makes up its own key: scale-out requires SHOPD_JWT_SECRET "
               "(test_scale_out)")
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


@embedded_only("the key file lives in the data dir, which only the embedded topology uses for it")
class KeyFileTest(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="shopd-keyfile-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)
        self.key_path = os.path.join(self.data_dir, "jwt_secret")
        self.outside = tempfile.mkdtemp(prefix="shopd-keyfile-outside-")
        self.addCleanup(shutil.rmtree, self.outside, True)

    def test_symlink_planted_at_the_key_path_is_refused_never_followed(self):
        target = os.path.join(self.outside, "planted")
        os.symlink(target, self.key_path)  # dangling: following it would create `target`
        rc, err = serve_refused(self.data_dir, *FAST_HASHING)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("symbolic link", err)
        self.assertIn(self.key_path, err)
        self.assertIn(f"rm {self.key_path}", err)
        self.assertFalse(os.path.lexists(target), "shopd wrote through the planted link")

        # A link to a file that holds a perfectly good key is refused as well.
        with open(target, "w") as f:
            f.write("attacker-chosen-key-0123456789abcdef-0123456789\n")
        os.chmod(target, 0o600)
        rc, err = serve_refused(self.data_dir, *FAST_HASHING)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("symbolic link", err)
        with open(target) as f:
            self.assertEqual(f.read(), "attacker-chosen-key-0123456789abcdef-0123456789\n")

    def test_key_file_open_to_group_or_others_is_refused_naming_chmod_600(self):
        with ShopdServer(jwt_secret=None, data_dir=self.data_dir) as srv:
            user = srv.create_user()
            self.assertEqual(srv.stop(), 0, srv.log_tail())
            for mode in (0o640, 0o604, 0o644, 0o666):
                with self.subTest(mode=oct(mode)):
                    os.chmod(self.key_path, mode)
                    rc, err = serve_refused(self.data_dir, *FAST_HASHING)
                    self.assertNotEqual(rc, 0, err)
                    self.assertIn(f"chmod 600 {self.key_path}", err)
                    self.assertEqual(mode_of(self.key_path), mode, "shopd changed the mode itself")
            os.chmod(self.key_path, 0o600)  # the fix the message names
            srv.start()
            self.assertEqual(srv.me(user["access"])[0], 200)

    def test_key_file_owned_by_someone_else_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the key file away")
        with ShopdServer(jwt_secret=None, data_dir=self.data_dir):
            pass
        os.chown(self.key_path, 65534, 65534)
        rc, err = serve_refused(self.data_dir, *FAST_HASHING)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("owned by uid 65534", err)
        self.assertIn(f"chown {os.geteuid()} {self.key_path}", err)

    def test_key_is_created_0600_even_with_a_permissive_umask(self):
        old = os.umask(0)
        try:
            with ShopdServer(jwt_secret=None, data_dir=self.data_dir) as srv:
                self.assertEqual(mode_of(self.key_path), 0o600)
                self.assertTrue(stat.S_ISREG(os.lstat(self.key_path).st_mode))
                self.assertEqual(srv.me(srv.create_user()["access"])[0], 200)
        finally:
            os.umask(old)


class DataDirTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="shopd-datadir-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def test_created_directories_get_mode_0700(self):
        data_dir = os.path.join(self.root, "new", "data")
        old = os.umask(0)  # the mode is shopd's choice, not the umask's
        try:
            with ShopdServer(data_dir=data_dir) as srv:
                self.assertEqual(srv.request("GET", "/health")[0], 200)
        finally:
            os.umask(old)
        self.assertEqual(mode_of(os.path.join(self.root, "new")), 0o700)
        self.assertEqual(mode_of(data_dir), 0o700)

    def test_directory_writable_by_group_or_others_is_refused_naming_the_fix(self):
        for mode in (0o770, 0o777, 0o1777, 0o722):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.root, mode)
                rc, err = serve_refused(self.root, *FAST_HASHING, env={"SHOPD_JWT_SECRET": TEST_JWT_SECRET})
                self.assertNotEqual(rc, 0, err)
                self.assertIn("writable by group or others", err)
                self.assertIn(f"chmod 700 {self.root}", err)
                self.assertEqual(mode_of(self.root), mode, "shopd changed the mode itself")
                self.assertEqual(os.listdir(self.root), [], "shopd wrote into a refused data dir")
        os.chmod(self.root, 0o700)
        with ShopdServer(data_dir=self.root) as srv:
            self.assertEqual(srv.request("GET", "/health")[0], 200)

    def test_directory_owned_by_someone_else_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the directory away")
        os.chown(self.root, 65534, 65534)
        rc, err = serve_refused(self.root, *FAST_HASHING, env={"SHOPD_JWT_SECRET": TEST_JWT_SECRET})
        self.assertNotEqual(rc, 0, err)
        self.assertIn("owned by uid 65534", err)
        self.assertIn(f"chown {os.geteuid()} {self.root}", err)


class EnvSecretEncodingTest(unittest.TestCase):
    """SHOPD_JWT_SECRET: raw bytes as given, or `base64:` / `hex:` decoded; >= 32 bytes of key."""

    def assert_tokens_signed_with(self, env_value, key_bytes):
        with ShopdServer(jwt_secret=env_value) as srv:
            user = srv.create_user()
            self.assertTrue(verify_hs256(user["access"], key_bytes),
                            f"access token is not signed with the decoded key of {env_value!r}")
            _, claims = decode_jwt(user["access"])
            now = int(time.time())
            forged = forge_jwt(dict(claims, iat=now, exp=now + 60), secret=key_bytes)
            self.assertEqual(srv.me(forged)[0], 200)

    def test_base64_prefix_is_decoded(self):
        key = bytes(range(200, 232)) + b"\x00\xff"  # not text: only an encoding can carry it
        self.assert_tokens_signed_with("base64:" + base64.b64encode(key).decode(), key)
        self.assert_tokens_signed_with("base64:" + base64.urlsafe_b64encode(key).decode().rstrip("="), key)

    def test_hex_prefix_is_decoded(self):
        key = bytes(range(32))
        self.assert_tokens_signed_with("hex:" + key.hex(), key)

    def test_raw_value_of_exactly_32_bytes_is_accepted(self):
        self.assert_tokens_signed_with("r" * 32, b"r" * 32)

    def test_short_key_material_is_refused_with_a_message(self):
        data_dir = tempfile.mkdtemp(prefix="shopd-envsecret-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        cases = {
            "r" * 31: "31 bytes",
            # 44 characters of text that decode to 31 bytes: the decoded key is what counts.
            "base64:" + base64.b64encode(b"k" * 31).decode(): "31 bytes",
            "hex:" + "ab" * 31: "31 bytes",
            "base64:not*base64*at*all*but*long*enough*to*count": "not valid base64",
            "hex:" + "zz" * 32: "hex digits",
        }
        for value, expected in cases.items():
            with self.subTest(value=value):
                rc, err = serve_refused(data_dir, *FAST_HASHING, env={"SHOPD_JWT_SECRET": value})
                self.assertNotEqual(rc, 0, err)
                self.assertIn("SHOPD_JWT_SECRET", err)
                self.assertIn(expected, err)
        self.assertFalse(os.path.exists(os.path.join(data_dir, "jwt_secret")),
                         "a bad SHOPD_JWT_SECRET fell back to a generated key")


class Argon2FloorTest(unittest.TestCase):
    """OWASP floor (one row must be met): m>=47104 t>=1, m>=19456 t>=2, m>=12288 t>=3,
    m>=9216 t>=4, m>=7168 t>=5. Below it, only the test-only opt-out starts."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="shopd-argon2-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)
        self.env = {"SHOPD_JWT_SECRET": TEST_JWT_SECRET}

    def test_parameters_below_the_floor_are_refused_by_default(self):
        for m, t in (("1024", "1"), ("19455", "2"), ("47103", "1"), ("7167", "64")):
            with self.subTest(m=m, t=t):
                rc, err = serve_refused(self.data_dir, "--argon2-memory-kib", m, "--argon2-iterations", t,
                                        env=self.env)
                self.assertEqual(rc, 2, err)
                self.assertIn("below the OWASP floor", err)
                self.assertIn("m>=19456 KiB with t>=2", err)
        # The same through the environment.
        rc, err = serve_refused(self.data_dir, env=dict(self.env, SHOPD_ARGON2_MEMORY_KIB="1024",
                                                        SHOPD_ARGON2_ITERATIONS="1"))
        self.assertEqual(rc, 2, err)
        self.assertIn("below the OWASP floor", err)

    def test_defaults_and_other_rows_of_the_floor_start_without_a_warning(self):
        for extra in ({}, {"argon2-memory-kib": 47104, "argon2-iterations": 1},
                      {"argon2-memory-kib": 7168, "argon2-iterations": 5}):
            with self.subTest(**extra):
                with ShopdServer(options=dict(PRODUCTION_HASHING, **extra)) as srv:
                    st, _, body, _ = srv.register(unique_email("floor"))
                    self.assertEqual(st, 201, body)
                    self.assertNotIn("insecure-fast-hashing-for-tests", srv.stderr_text())
                    self.assertFalse([r for r in srv.log_records() if r.get("level") == "warn"],
                                     srv.log_tail())

    def test_test_only_opt_out_starts_and_warns_loudly(self):
        self.assertEqual(DEFAULT_OPTIONS.get("insecure-fast-hashing-for-tests"), "true",
                         "the harness is expected to opt out for its fast hashing")
        for how in ("flag", "env"):
            with self.subTest(how=how):
                if how == "flag":
                    srv = ShopdServer()
                else:
                    srv = ShopdServer(options={"insecure-fast-hashing-for-tests": None},
                                      env={"SHOPD_INSECURE_FAST_HASHING_FOR_TESTS": "1"})
                with srv:
                    st, _, body, _ = srv.register(unique_email("fast"))
                    self.assertEqual(st, 201, body)
                    warning = srv.wait_for_log(lambda r: r.get("level") == "warn" and
                                               r.get("option") == "insecure-fast-hashing-for-tests")
                    self.assertIsNotNone(warning, srv.log_tail())
                    self.assertIn("INSECURE", warning["msg"])
                    self.assertEqual((warning["argon2_memory_kib"], warning["argon2_iterations"]), (1024, 1))
                    self.assertIs(warning["below_owasp_floor"], True)
                    self.assertIn("WARNING", srv.stderr_text())
                    self.assertIn("Never use this outside tests", srv.stderr_text())


if __name__ == "__main__":
    unittest.main()

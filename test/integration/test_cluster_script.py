"""scripts/cluster.sh: up starts PostgreSQL (primary + streaming replica), Redis, shopd replicas and
nginx on loopback; the printed URL serves the API; nginx routes around a killed replica; status tells
what runs; down stops exactly what up started. Every part runs in a temporary SHOPD_CLUSTER_DIR."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import REPO_ROOT, SHOPD_BIN, pid_alive, wait_for
from shop_support import ADMIN_EMAIL, ADMIN_PASSWORD, FollowingClient

SCRIPT = os.path.join(REPO_ROOT, "scripts", "cluster.sh")


@unittest.skipUnless(shutil.which("nginx") and shutil.which("redis-server"),
                     "nginx and redis-server are needed: scripts/install_deps.sh test")
class ClusterScriptTest(unittest.TestCase):
    def setUp(self):
        parent = tempfile.mkdtemp(prefix="shopd-it-cluster-")
        os.chmod(parent, 0o755)  # PostgreSQL runs as its own user (we may be root): it must reach the dir
        self.dir = os.path.join(parent, "cluster")
        self.env = dict(os.environ, SHOPD_CLUSTER_DIR=self.dir, SHOPD_BIN=SHOPD_BIN,
                        SHOPD_ADMIN_EMAIL=ADMIN_EMAIL, SHOPD_ADMIN_PASSWORD=ADMIN_PASSWORD)
        self.env.pop("SHOPD_JWT_SECRET", None)
        self.addCleanup(shutil.rmtree, os.path.dirname(self.dir), True)
        self.addCleanup(self.run_script, "down")

    def run_script(self, *args, timeout=180):
        return subprocess.run(["bash", SCRIPT, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def state(self):
        with open(os.path.join(self.dir, "state")) as f:
            return dict(line.strip().split("=", 1) for line in f if "=" in line)

    def test_up_serves_routes_around_a_killed_replica_and_down_stops_everything(self):
        up = self.run_script("up", "--replicas", "2")
        self.assertEqual(up.returncode, 0, up.stderr)
        url = up.stdout.strip().splitlines()[-1]
        self.assertTrue(url.startswith("http://127.0.0.1:"), up.stdout)
        port = int(url.rsplit(":", 1)[1])
        state = self.state()
        pids = [int(v) for k, v in state.items() if k.endswith("_pid")]
        self.assertEqual(len(pids), 6, state)  # 2 postgres, redis, 2 replicas, nginx

        client = FollowingClient(type("Nginx", (), {"port": port}))
        self.addCleanup(client.close)
        st, _, body, doc = client.request("POST", "/v1/auth/login",
                                          body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        self.assertEqual(st, 200, body)
        auth = {"Authorization": "Bearer " + doc["access_token"]}
        st, _, body, product = client.request("POST", "/v1/products", headers=auth,
                                              body={"name": "Mug", "price_cents": 1200, "currency": "EUR",
                                                    "stock": 5})
        self.assertEqual(st, 201, body)

        os.kill(int(state["replica_1_pid"]), signal.SIGKILL)
        for _ in range(10):
            st, _, body, _ = client.request("GET", f"/v1/products/{product['id']}")
            self.assertEqual(st, 200, body)
        headers = dict(auth, **{"Idempotency-Key": str(uuid.uuid4())})
        st, _, body, order = client.request("POST", "/v1/orders", headers=headers,
                                            body={"items": [{"product_id": product["id"], "quantity": 2}]})
        self.assertEqual(st, 202, body)
        self.assertTrue(wait_for(lambda: client.request("GET", f"/v1/orders/{order['id']}", headers=auth)[3]
                                 .get("status") == "confirmed", 15, interval=0.1))

        status = self.run_script("status")
        self.assertNotEqual(status.returncode, 0, "a killed replica is reported")
        self.assertRegex(status.stdout, r"shopd replica 1 +pid \d+ +stopped")
        self.assertRegex(status.stdout, r"nginx +pid \d+ +running")

        down = self.run_script("down")
        self.assertEqual(down.returncode, 0, down.stderr)
        self.assertTrue(wait_for(lambda: not any(pid_alive(p) for p in pids), 20), "down left a process running")
        self.assertFalse(os.path.exists(self.dir))

    def test_bad_arguments_are_clear_errors(self):
        for args in (["up", "--replicas", "zero"], ["up", "--frobnicate"], ["sideways"]):
            r = self.run_script(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "state")))


if __name__ == "__main__":
    unittest.main()

"""Catalog over real sockets: admin writes, public reads, cursor pagination, validation,
cache invalidation on write."""

import base64
import json
import unittest
import urllib.parse

from harness import bearer
from shop_support import (SHOP_OPTIONS, ReadOnlyDb, ShopTestCase, create_product, product_body,
                          random_uuid)

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
PRODUCT_FIELDS = {"id", "name", "description", "price_cents", "currency", "stock", "created_at", "updated_at"}


class CatalogTest(ShopTestCase):
    # Long cache TTL: a stale read after a write can only be explained by missing invalidation.
    server_options = dict(SHOP_OPTIONS, **{"catalog-cache-ttl-ms": 60000})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.server.create_user()["access"]
        cls.db = ReadOnlyDb(cls.server.data_dir)

    # -- helpers -----------------------------------------------------------
    def post(self, body=None, token=None, raw_body=None, headers=None):
        hdrs = dict(bearer(token or self.admin))
        hdrs.update(headers or {})
        return self.server.request("POST", "/v1/products", body=body, raw_body=raw_body, headers=hdrs)

    def put(self, pid, body=None, token=None, raw_body=None):
        return self.server.request("PUT", f"/v1/products/{pid}", body=body, raw_body=raw_body,
                                   headers=bearer(token or self.admin))

    def get(self, pid):
        return self.server.request("GET", f"/v1/products/{pid}")

    def list_page(self, query=""):
        return self.server.request("GET", "/v1/products" + query)

    def assertProductShape(self, doc, expected=None):
        self.assertIsInstance(doc, dict, doc)
        self.assertEqual(set(doc), PRODUCT_FIELDS, doc)
        self.assertIsInstance(doc["id"], str)
        self.assertTrue(doc["id"])
        self.assertRegex(doc["created_at"], RFC3339)
        self.assertRegex(doc["updated_at"], RFC3339)
        for k, v in (expected or {}).items():
            self.assertEqual(doc[k], v, f"{k}: {doc}")

    def all_pages(self, limit):
        """Follow next_cursor from the first page to the end; returns (items, pages)."""
        items, pages = [], 0
        query = f"?limit={limit}"
        while True:
            resp = self.list_page(query)
            self.assertStatus(resp, 200)
            doc = resp[3]
            self.assertEqual(set(doc), {"items", "next_cursor"}, doc)
            self.assertLessEqual(len(doc["items"]), limit)
            for it in doc["items"]:
                self.assertProductShape(it)
            items.extend(doc["items"])
            pages += 1
            self.assertLess(pages, 1000, "pagination does not end")
            if doc["next_cursor"] is None:
                return items, pages
            self.assertIsInstance(doc["next_cursor"], str)
            self.assertTrue(doc["next_cursor"])
            query = f"?limit={limit}&cursor={urllib.parse.quote(doc['next_cursor'], safe='')}"

    # -- happy path ----------------------------------------------------------
    def test_create_get_update(self):
        body = product_body(name="Blue Mug", price_cents=1250, currency="EUR", stock=7,
                            description="A mug. Blue.")
        resp = self.post(body)
        self.assertStatus(resp, 201)
        created = resp[3]
        self.assertProductShape(created, body)
        self.assertTrue(resp[1].get("content-type", "").startswith("application/json"), resp[1])

        got = self.get(created["id"])
        self.assertStatus(got, 200)
        self.assertEqual(got[3], created)
        self.assertEqual(self.db.scalar("SELECT stock FROM products WHERE id=?", (created["id"],)), 7)

        new = product_body(name="Red Mug", price_cents=1300, currency="EUR", stock=3, description="Red now.")
        upd = self.put(created["id"], new)
        self.assertStatus(upd, 200)
        self.assertProductShape(upd[3], new)
        self.assertEqual(upd[3]["id"], created["id"])
        self.assertEqual(upd[3]["created_at"], created["created_at"])
        self.assertGreaterEqual(upd[3]["updated_at"], created["updated_at"])

        got = self.get(created["id"])
        self.assertStatus(got, 200)
        self.assertEqual(got[3], upd[3])

    def test_description_is_optional(self):
        resp = self.post(product_body(name="No description"))
        self.assertStatus(resp, 201)
        self.assertProductShape(resp[3], {"name": "No description", "description": ""})

    def test_stock_zero_and_boundaries_accepted(self):
        resp = self.post(product_body(name="x" * 200, stock=0, price_cents=1, description="d" * 5000))
        self.assertStatus(resp, 201)
        self.assertProductShape(resp[3], {"stock": 0, "price_cents": 1})

    def test_update_is_visible_immediately(self):
        p = create_product(self.server, self.admin, name="Cached", price_cents=100, stock=5)
        for i in range(1, 11):
            # Warm the cache, write, read again: the write must invalidate.
            self.assertStatus(self.get(p["id"]), 200)
            self.assertStatus(self.get(p["id"]), 200)
            body = product_body(name=f"Cached v{i}", price_cents=100 + i, stock=5 + i)
            self.assertStatus(self.put(p["id"], body), 200)
            got = self.get(p["id"])
            self.assertStatus(got, 200)
            self.assertEqual((got[3]["name"], got[3]["price_cents"], got[3]["stock"]),
                             (f"Cached v{i}", 100 + i, 5 + i), f"stale read after update {i}: {got[3]}")
            # The list is fresh too.
            items, _ = self.all_pages(100)
            mine = [it for it in items if it["id"] == p["id"]]
            self.assertEqual(len(mine), 1)
            self.assertEqual(mine[0]["name"], f"Cached v{i}")

    def test_pagination_through_all_pages(self):
        created = {create_product(self.server, self.admin, name=f"Page item {i}", price_cents=10 + i,
                                  stock=i)["id"] for i in range(23)}
        for limit in (1, 7, 20, 100):
            with self.subTest(limit=limit):
                items, pages = self.all_pages(limit)
                ids = [it["id"] for it in items]
                self.assertEqual(len(ids), len(set(ids)), f"duplicates across pages (limit {limit})")
                self.assertTrue(created <= set(ids), f"gaps: missing {created - set(ids)}")
                self.assertEqual(ids, sorted(ids), "not ordered by id")
                db_ids = sorted(r[0] for r in self.db.query("SELECT id FROM products"))
                # Products created concurrently by other tests do not exist: the class runs serially.
                self.assertEqual(ids, db_ids)
                if limit == 1:
                    self.assertGreaterEqual(pages, len(created))

    def test_default_limit_is_20(self):
        for i in range(21):
            create_product(self.server, self.admin, name=f"Default limit {i}")
        resp = self.list_page()
        self.assertStatus(resp, 200)
        self.assertEqual(len(resp[3]["items"]), 20)
        self.assertIsInstance(resp[3]["next_cursor"], str)

    def test_public_reads_need_no_token(self):
        p = create_product(self.server, self.admin, name="Public")
        self.assertStatus(self.server.request("GET", f"/v1/products/{p['id']}"), 200)
        self.assertStatus(self.server.request("GET", "/v1/products?limit=5"), 200)
        # A user token works as well.
        self.assertStatus(self.server.request("GET", f"/v1/products/{p['id']}", headers=bearer(self.user)), 200)

    # -- authorization -------------------------------------------------------
    def test_user_gets_403_on_writes(self):
        resp = self.post(product_body(name="Not allowed"), token=self.user)
        self.assertProblem(resp, 403, "forbidden")
        p = create_product(self.server, self.admin, name="Owned by admin", price_cents=500)
        resp = self.put(p["id"], product_body(name="Hijacked", price_cents=1), token=self.user)
        self.assertProblem(resp, 403, "forbidden")
        got = self.get(p["id"])
        self.assertEqual((got[3]["name"], got[3]["price_cents"]), ("Owned by admin", 500))
        self.assertEqual(self.db.scalar("SELECT count(*) FROM products WHERE name='Not allowed'"), 0)

    def test_user_gets_403_before_the_body_is_looked_at(self):
        # A non-admin learns nothing about what a valid body would be.
        for body in ({"name": 1, "price_cents": "x"}, {"unknown": True}):
            self.assertProblem(self.post(body, token=self.user), 403, "forbidden")
        self.assertProblem(self.post(raw_body=b"{not json", token=self.user,
                                     headers={"Content-Type": "application/json"}), 403, "forbidden")

    def test_anonymous_gets_401_on_writes(self):
        resp = self.server.request("POST", "/v1/products", body=product_body(name="anon"))
        self.assertUnauthorized(resp)
        resp = self.server.request("PUT", f"/v1/products/{random_uuid()}", body=product_body(name="anon"))
        self.assertUnauthorized(resp)

    # -- not found -----------------------------------------------------------
    def test_unknown_id_404(self):
        for pid in (random_uuid(), "no-such-product", "0"):
            with self.subTest(pid=pid):
                self.assertProblem(self.get(pid), 404, "not-found")
        self.assertProblem(self.put(random_uuid(), product_body(name="ghost")), 404, "not-found")

    # -- bad bodies ----------------------------------------------------------
    BAD_BODIES = [
        ("missing name", {"price_cents": 100, "currency": "USD", "stock": 1}, ["name"]),
        ("missing price", {"name": "a", "currency": "USD", "stock": 1}, ["price_cents"]),
        ("missing currency", {"name": "a", "price_cents": 100, "stock": 1}, ["currency"]),
        ("missing stock", {"name": "a", "price_cents": 100, "currency": "USD"}, ["stock"]),
        ("all missing", {}, ["name", "price_cents", "currency", "stock"]),
        ("price float", product_body(price_cents=9.99), ["price_cents"]),
        ("price string", product_body(price_cents="100"), ["price_cents"]),
        ("price zero", product_body(price_cents=0), ["price_cents"]),
        ("price negative", product_body(price_cents=-5), ["price_cents"]),
        ("price bool", product_body(price_cents=True), ["price_cents"]),
        ("price null", product_body(price_cents=None), ["price_cents"]),
        ("stock negative", product_body(stock=-1), ["stock"]),
        ("stock float", product_body(stock=1.5), ["stock"]),
        ("stock string", product_body(stock="3"), ["stock"]),
        ("currency lower", product_body(currency="usd"), ["currency"]),
        ("currency short", product_body(currency="US"), ["currency"]),
        ("currency long", product_body(currency="USDX"), ["currency"]),
        ("currency digits", product_body(currency="U5D"), ["currency"]),
        ("currency number", product_body(currency=840), ["currency"]),
        ("name empty", product_body(name=""), ["name"]),
        ("name too long", product_body(name="n" * 201), ["name"]),
        ("name number", product_body(name=5), ["name"]),
        ("description too long", product_body(description="d" * 5001), ["description"]),
        ("description number", dict(product_body(), description=7), ["description"]),
        ("unknown field", dict(product_body(), color="blue"), ["color"]),
        ("client-chosen id", dict(product_body(), id=random_uuid()), ["id"]),
    ]

    def test_bad_bodies_post_and_put(self):
        target = create_product(self.server, self.admin, name="Target", price_cents=777, stock=4)
        before = self.db.scalar("SELECT count(*) FROM products")
        for label, body, fields in self.BAD_BODIES:
            with self.subTest(label, method="POST"):
                self.assertValidationError(self.post(body), fields)
            with self.subTest(label, method="PUT"):
                self.assertValidationError(self.put(target["id"], body), fields)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM products"), before, "a bad body created a product")
        got = self.get(target["id"])
        self.assertEqual((got[3]["name"], got[3]["price_cents"], got[3]["stock"]), ("Target", 777, 4))

    def test_body_not_an_object(self):
        for raw in (b"[]", b"42", b'"product"', b"null"):
            with self.subTest(raw=raw):
                self.assertValidationError(self.post(raw_body=raw))

    def test_malformed_json(self):
        target = create_product(self.server, self.admin, name="Malformed target")
        for raw in (b"{", b'{"name": "a",}', b"{'name': 'a'}", b"not json", b'{"name":"a"} trailing'):
            with self.subTest(raw=raw):
                self.assertProblem(self.post(raw_body=raw), 400, "malformed-json")
                self.assertProblem(self.put(target["id"], raw_body=raw), 400, "malformed-json")

    def test_wrong_content_type(self):
        resp = self.post(raw_body=json.dumps(product_body()).encode(), headers={"Content-Type": "text/plain"})
        self.assertProblem(resp, 415, "unsupported-media-type")

    # -- bad query parameters --------------------------------------------------
    def test_bad_limit(self):
        for q in ("0", "101", "x", "-1", "1.5", "", "1e2", "20abc", "99999999999999999999"):
            with self.subTest(limit=q):
                self.assertProblem(self.list_page(f"?limit={urllib.parse.quote(q)}"), 400, "invalid-limit")
        for q in ("1", "100"):
            with self.subTest(limit=q):
                self.assertStatus(self.list_page(f"?limit={q}"), 200)

    def test_bad_cursor(self):
        create_product(self.server, self.admin, name="Cursor base 1")
        create_product(self.server, self.admin, name="Cursor base 2")
        first = self.list_page("?limit=1")
        self.assertStatus(first, 200)
        good = first[3]["next_cursor"]
        self.assertIsInstance(good, str)
        junk = [
            "garbage!!",
            "%%%",
            base64.urlsafe_b64encode(b"\x00\xff\xfejunk").decode().rstrip("="),
            base64.urlsafe_b64encode(b"hello world").decode(),
            base64.b64encode(b'{"id": 5}').decode(),
            base64.urlsafe_b64encode(b'{"after":null}').decode().rstrip("="),
            base64.urlsafe_b64encode(("A" * 5000).encode()).decode(),
            good[:-1] if len(good) > 1 else "x",
            good + "x",
            good + "==",
        ]
        for c in junk:
            with self.subTest(cursor=c[:40]):
                resp = self.list_page(f"?limit=5&cursor={urllib.parse.quote(c, safe='')}")
                self.assertNotEqual(resp[0], 500, resp)
                # A cursor that happens to decode to something valid is allowed to work.
                if resp[0] != 200:
                    self.assertProblem(resp, 400, "invalid-cursor")
        # The plainly invalid ones must be rejected.
        for c in junk[:5]:
            with self.subTest(strict_cursor=c[:40]):
                self.assertProblem(self.list_page(f"?limit=5&cursor={urllib.parse.quote(c, safe='')}"),
                                   400, "invalid-cursor")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/python3
"""test_dashboard.py - relaydiag-dashboard's model and HTTP guards, in
process, on a recorded stream (the page in a browser: t_observe.sh).

Run: python3 tests/tools/test_dashboard.py TOOLS_DIR EVENTS.jsonl
"""

import base64
import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

TOOLS, EVENTS = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
sys.path.insert(0, TOOLS)
from relaydiag_tools import dashboard  # noqa: E402


def events():
    with open(EVENTS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class ModelTest(unittest.TestCase):
    def setUp(self):
        self.m = dashboard.Model(keep=100)
        for ev in events():
            self.m.add(ev)

    def test_counts(self):
        evs = events()
        s = self.m.summary(now=time.time())
        self.assertEqual(s["totals"]["events"], len(evs))
        rc = [e for e in evs if e["type"] == "rcpt"]
        self.assertEqual(s["totals"]["rcpts"], len(rc))
        bad = [e for e in rc if e["mta"]["verdict"] != "accept" or
               e["action"] in ("reject", "tempfail")]
        self.assertEqual(s["totals"]["refused"], len(bad))
        self.assertEqual({r["id"] for r in s["refusals"]},
                         {e["id"] for e in bad})

    def test_duplicates_once(self):
        v = self.m.version
        for ev in events():
            self.assertFalse(self.m.add(ev))
        self.assertEqual(self.m.version, v)

    def test_chart_minutes(self):
        evs = [e for e in events() if e["type"] == "rcpt"]
        t = dashboard.ev_time(evs[-1]) + 30
        s = self.m.summary(now=t)
        self.assertEqual(len(s["chart"]["minutes"]), dashboard.MINUTES)
        total = sum(sum(v) for v in s["chart"]["series"].values())
        self.assertEqual(total, len(evs))

    def test_why(self):
        got = self.m.why("127.0.0.8")
        self.assertEqual(len(got), 1)
        story = dict(got[0]["story"])
        self.assertIn("relay.ip-changed", story["diagnosis"])
        self.assertTrue(got[0]["refused"])
        self.assertEqual(self.m.why("nobody@nowhere.test"), [])

    def test_bounded(self):
        m = dashboard.Model(keep=10)
        base = [e for e in events() if e["type"] == "rcpt"][0]
        for i in range(1000):
            ev = json.loads(json.dumps(base))
            ev["id"] = "X%d.1" % i
            ev["client"]["helo"] = "h" * 5000
            m.add(ev)
        self.assertEqual(len(m.events), 10)
        self.assertLessEqual(len(m.seen), 20)
        self.assertLessEqual(len(m.summary()["refusals"][0]["helo"]),
                             dashboard.FIELD_MAX)

    def test_garbage(self):
        for ev in (None, [], {"id": 5}, {"id": "a", "type": "rcpt",
                                           "diagnosis": "x", "mta": 3},
                   {"id": "b", "type": "alert", "sample": {"clients": 7}}):
            self.m.add(ev)
        json.dumps(self.m.summary())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = dashboard.Model()
        for ev in events():
            cls.m.add(ev)
        d = tempfile.mkdtemp()
        cls.basic = os.path.join(d, "users")
        with open(cls.basic, "w") as f:
            f.write("# admins\nadmin:s3cret-pass\n")
        cls.servers = []
        cls.open_port = cls.serve(dashboard.Auth())
        cls.auth_port = cls.serve(dashboard.Auth(cls.basic))

    @classmethod
    def serve(cls, auth):
        port = free_port()
        srv = dashboard.Server(
            ("127.0.0.1", port),
            dashboard.make_handler(cls.m, auth, {"127.0.0.1", "localhost"}),
            socket.AF_INET)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        cls.servers.append(srv)
        return port

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.shutdown()
            s.server_close()

    def get(self, port, path, headers=None, method="GET"):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                     headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as f:
                return f.status, dict(f.headers), f.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_page_and_csp(self):
        code, h, body = self.get(self.open_port, "/")
        self.assertEqual(code, 200)
        self.assertIn("script-src 'self'", h["Content-Security-Policy"])
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        self.assertNotIn(b"<script>", body)      # no inline script
        self.assertNotIn(b"http://", body.replace(b"http://www.w3", b""))

    def test_no_outside_resources(self):
        for name in ("index.html", "app.js", "style.css"):
            with open(os.path.join(dashboard.WEB, name)) as f:
                t = f.read()
            self.assertNotRegex(t, r"https?://", name)
            if name == "app.js":
                self.assertNotRegex(t, r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write")
                self.assertNotIn("eval(", t)

    def test_summary_json_escapes(self):
        code, h, body = self.get(self.open_port, "/api/summary")
        self.assertEqual(code, 200)
        self.assertEqual(h["Content-Type"], "application/json")
        self.assertTrue(all(b < 0x80 for b in body))
        json.loads(body)

    def test_long_poll_wakes(self):
        v = self.m.version
        base = [e for e in events() if e["type"] == "rcpt"][0]
        ev = json.loads(json.dumps(base))
        ev["id"] = "LIVE.1"
        threading.Timer(0.3, self.m.add, [ev]).start()
        t0 = time.time()
        code, _, body = self.get(self.open_port, "/api/summary?after=%d" % v)
        self.assertLess(time.time() - t0, 5)
        self.assertGreater(json.loads(body)["version"], v)

    def test_host_check(self):
        code, _, _ = self.get(self.open_port, "/api/summary",
                              {"Host": "attacker.example"})
        self.assertEqual(code, 421)
        code, _, _ = self.get(self.open_port, "/api/summary",
                              {"Host": "localhost:1234"})
        self.assertEqual(code, 200)

    def test_methods(self):
        code, h, _ = self.get(self.open_port, "/api/summary", method="POST")
        self.assertEqual(code, 405)
        code, _, _ = self.get(self.open_port, "/etc/passwd")
        self.assertEqual(code, 404)
        code, _, _ = self.get(self.open_port, "/../app.js")
        self.assertEqual(code, 404)

    def test_basic_auth(self):
        code, h, _ = self.get(self.auth_port, "/")
        self.assertEqual(code, 401)
        self.assertIn("Basic", h["WWW-Authenticate"])
        bad = base64.b64encode(b"admin:wrong").decode()
        code, _, _ = self.get(self.auth_port, "/",
                              {"Authorization": "Basic " + bad})
        self.assertEqual(code, 401)
        good = base64.b64encode(b"admin:s3cret-pass").decode()
        code, _, _ = self.get(self.auth_port, "/",
                              {"Authorization": "Basic " + good})
        self.assertEqual(code, 200)
        code, _, _ = self.get(self.auth_port, "/healthz")
        self.assertEqual(code, 200)

    def test_why_api(self):
        code, _, body = self.get(self.open_port, "/api/why?q=127.0.0.66")
        d = json.loads(body)
        self.assertEqual(d["q"], "127.0.0.66")
        self.assertTrue(any("relay.probe" in v for k, v in
                            d["decisions"][0]["story"] if v))


class Cli(unittest.TestCase):
    def test_refuses_open_listener(self):
        self.assertEqual(dashboard.main(["--listen", "0.0.0.0:1"]), 2)

    def test_short_token(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("short\n")
        try:
            self.assertEqual(dashboard.main(["--token-file", f.name]), 2)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main(verbosity=1)

#!/usr/bin/python3
"""test_report.py - relaydiag-report against forged events: whatever field
an attacker fills (ts, threshold.*, window.seconds, sink.*, any text, of any
JSON type), the output is one safe line per row, in any locale.

Run: python3 tests/tools/test_report.py [path/to/relaydiag-report]
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

REPORT = (sys.argv.pop(1) if len(sys.argv) > 1 else
          os.path.join(os.path.dirname(__file__), "..", "..", "tools",
                       "relaydiag-report"))

# What a terminal must never get raw.
ESC = "\x1b]0;pwned\x07\x1b[2J"
TRICKS = ["\u202e", "\u2066", "\u2069", "\u2028", "\u2029", "\u200b",
          "\x85", "\x9b", "\x7f", "\x00", "\r", "\ud800"]
HOSTILE = ESC + "".join(TRICKS) + "caf\u00e9"


def ev(typ, n, **kw):
    e = {"schema": "relaydiag.event/1", "type": typ, "id": "S%d.%d" % (n, 1),
         "session": "S%d" % n, "ts": "2026-12-02T10:00:00.000Z",
         "host": "mx" + HOSTILE}
    e.update(kw)
    return e


def events():
    yield ev("rcpt", 1, ts="2026-12-02T10:00:01" + HOSTILE,
             action="none" + HOSTILE,
             client={"ip": "192.0.2.1" + HOSTILE},
             sender={"addr": "a" + HOSTILE + "@x.test"},
             rcpt={"addr": "b" + HOSTILE + "@y.test"},
             mta={"verdict": "reject" + HOSTILE, "code": "554" + HOSTILE,
                  "dsn": ["5.7.1", HOSTILE]},
             diagnosis={"id": "relay.no-auth" + HOSTILE,
                        "severity": {"x": HOSTILE}})
    yield ev("alert", 2, ts=HOSTILE,
             diagnosis={"id": "alert.relay-probe" + HOSTILE,
                        "severity": 7, "summary": HOSTILE},
             threshold={"metric": HOSTILE, "observed": HOSTILE,
                        "limit": [HOSTILE]},
             window={"seconds": HOSTILE},
             sample={"clients": [HOSTILE, 5, None]})
    yield ev("session", 3, sink={"dropped": HOSTILE, "spooled": {"a": ESC}})
    yield ev(HOSTILE, 4)
    yield ev("rcpt", 5, action="none", client={"ip": "192.0.2.5"},
             sender={"addr": "caf\u00e9@x.test"}, rcpt={"addr": "b@y.test"},
             mta={"verdict": "accept"}, diagnosis={"id": "relay.ok"})


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fd, cls.path = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "w", encoding="utf-8",
                       errors="surrogatepass") as f:
            for e in events():
                f.write(json.dumps(e) + "\n")

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.path)

    def run_report(self, env, *args):
        full = dict(os.environ)
        full.update(env)
        return subprocess.run([sys.executable, REPORT, "--file", self.path]
                              + list(args), env=full,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)

    def assert_safe(self, out, ascii_only):
        for i, b in enumerate(out):
            if b < 0x20 and b != 0x0a or b == 0x7f:
                self.fail("raw control byte 0x%02x at %d: %r" %
                          (b, i, out[max(0, i - 30):i + 30]))
            if ascii_only and b >= 0x80:
                self.fail("non-ASCII byte at %d under an ASCII locale" % i)
        text = out.decode("utf-8")  # valid UTF-8, or this raises
        for t in TRICKS + ["\x1b"]:
            self.assertNotIn(t, text, "raw %r in the output" % t)

    def test_utf8_locale(self):
        r = self.run_report({"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_safe(r.stdout, False)
        self.assertIn(b"caf\xc3\xa9", r.stdout)  # printable text kept
        self.assertIn(b"\\x1b]0;pwned\\x07", r.stdout)
        self.assertIn(b"\\u202e", r.stdout)

    def test_ascii_locales(self):
        for env in ({"PYTHONIOENCODING": "ascii"},
                    {"LC_ALL": "POSIX", "PYTHONIOENCODING": "",
                     "PYTHONUTF8": "0"}):
            r = self.run_report(env)
            self.assertEqual(r.returncode, 0, (env, r.stderr))
            self.assert_safe(r.stdout, True)
            self.assert_safe(r.stderr, True)
            self.assertIn(b"caf\\xe9", r.stdout)

    def test_every_printed_field(self):
        r = self.run_report({"LC_ALL": "C.UTF-8"})
        out = r.stdout.decode()
        # the alert row, the sink row and the header: all escaped
        self.assertRegex(out, r"ALERT|Alerts")
        self.assertIn("dropped \\x1b]0;pwned", out)
        self.assertIn("\\x1b]0;pwned\\x07\\x1b[2J", out)

    def test_follow_lines(self):
        r = self.run_report({"PYTHONIOENCODING": "ascii"}, "--follow",
                            "--max-time", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_safe(r.stdout, True)
        self.assertIn(b"ALERT", r.stdout)

    def test_no_events_is_1_and_a_bug_is_not(self):
        fd, empty = tempfile.mkstemp()
        os.close(fd)
        try:
            r = subprocess.run([sys.executable, REPORT, "--file", empty],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(r.returncode, 1)
        finally:
            os.unlink(empty)


if __name__ == "__main__":
    unittest.main(verbosity=2)

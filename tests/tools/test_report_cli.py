#!/usr/bin/python3
"""test_report_cli.py - relaydiag-report's subcommands on a recorded stream
(tests/data/events/demo.jsonl: the demo's events): why by IP, address and
session; --since/--until; --json; --csv (and its guard against spreadsheet
formulas); --by; and no raw control byte on the terminal from a hostile
event appended to the recording.

Run: python3 tests/tools/test_report_cli.py REPORT EVENTS.jsonl
"""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

REPORT, EVENTS = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


def run(*args, path=None):
    r = subprocess.run([sys.executable, REPORT, "--file", path or EVENTS,
                        *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "strict"), r.stderr.decode()


def events():
    with open(EVENTS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Why(unittest.TestCase):
    def test_by_ip(self):
        rc, out, _ = run("why", "127.0.0.8")
        self.assertEqual(rc, 0)
        self.assertIn("diagnosis:     relay.ip-changed (error)", out)
        self.assertIn("<frank@gmail.test>", out)
        self.assertIn("fix (client):", out)
        self.assertIn("1 decision(s) about 127.0.0.8", out)

    def test_by_address_any_case(self):
        rc, out, _ = run("why", "Victim@Remote.Test")
        self.assertEqual(rc, 0)
        self.assertIn("relay.probe", out)

    def test_by_session(self):
        ev = [e for e in events() if e.get("type") == "rcpt"][0]
        rc, out, _ = run("why", ev["session"])
        self.assertEqual(rc, 0)
        self.assertIn(ev["id"], out)

    def test_unknown(self):
        rc, out, _ = run("why", "192.0.2.99")
        self.assertEqual(rc, 1)
        self.assertIn("no decision about 192.0.2.99", out)

    def test_needs_who(self):
        rc, _, err = run("why")
        self.assertEqual(rc, 2)
        self.assertIn("why needs WHO", err)

    def test_json_is_the_events(self):
        rc, out, _ = run("--json", "why", "127.0.0.1")
        self.assertEqual(rc, 0)
        got = [json.loads(line) for line in out.splitlines()]
        want = [e for e in events() if e.get("type") in
                ("rcpt", "delivery", "alert", "auth") and
                e.get("client", {}).get("ip") == "127.0.0.1" and
                e.get("diagnosis")]
        self.assertEqual([e["id"] for e in got], [e["id"] for e in want])


class Window(unittest.TestCase):
    def test_since_until(self):
        ts = sorted(e["ts"] for e in events())
        rc, out, _ = run("--json", "--since", "2099-01-01")
        self.assertEqual(json.loads(out)["events"], 0)
        self.assertEqual(rc, 1)
        rc, out, _ = run("--json", "--until", ts[0][:19] + "Z")
        self.assertEqual(json.loads(out)["events"], 0)
        rc, out, _ = run("--json", "--since", ts[0][:19] + "Z",
                         "--until", "2099-01-01")
        self.assertEqual(json.loads(out)["events"], len(ts))

    def test_bad_time(self):
        rc, _, err = run("--since", "yesterday-ish")
        self.assertEqual(rc, 2)
        self.assertIn("is not a time", err)


class Formats(unittest.TestCase):
    def test_csv_rows(self):
        rc, out, _ = run("--csv")
        self.assertEqual(rc, 0)
        rows = list(csv.DictReader(io.StringIO(out)))
        n = sum(1 for e in events() if e.get("type") == "rcpt")
        self.assertEqual(len(rows), n)
        self.assertTrue(all(r["diagnosis"] for r in rows))

    def test_json_summary(self):
        rc, out, _ = run("--json", "--by", "hour")
        s = json.loads(out)
        self.assertEqual(s["events"], len(events()))
        self.assertEqual(sum(b["rcpts"] for b in s["by"]),
                         sum(1 for e in events() if e.get("type") == "rcpt"))

    def test_hostile_event(self):
        ev = [e for e in events() if e.get("type") == "rcpt"][0]
        ev = json.loads(json.dumps(ev))
        ev["id"] = "HOSTILE.1"
        ev["client"]["helo"] = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
        ev["sender"]["addr"] = "=HYPERLINK(\"http://x\")@a.test"
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl",
                                         delete=False) as f:
            f.write(json.dumps(ev) + "\n")
        try:
            for args in (("why", ev["client"]["ip"]), ("--csv",), ()):
                rc, out, _ = run(*args, path=f.name)
                self.assertEqual(rc, 0, args)
                self.assertNotIn("\x1b", out)
                self.assertNotIn("\x07", out)
                self.assertNotIn("\u202e", out)
            rc, out, _ = run("--csv", path=f.name)
            row = list(csv.DictReader(io.StringIO(out)))[0]
            self.assertTrue(row["sender"].startswith("'="))
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main(verbosity=1)

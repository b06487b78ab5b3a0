"""relaydiag_tools.report - relaydiag-report(1): what relaydiag saw, as
tables for people, JSON or CSV for programs, and the explanation of every
decision about one client, address or session ("why").

Reads the events (docs/events.md) from the Redis stream or from the JSON
Lines event log, drops duplicates by the event's "id" (delivery is at
least once). All text from the events is shown escaped: it comes from the
network. Exit status: 0; 1 when no event was found; 2 on a usage,
connection or Redis error.
"""

import argparse
import collections
import csv
import json
import os
import socket
import sys
import time

from .events import (concerns, ev_time, get, in_window, is_decision,
                     parse_when, refused, safe, story, text)
from .stream import (DEFAULT_STREAM, DEFAULT_URL, Follower, Redis,
                     RedisError, stream_all)

BY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
CSV_FIELDS = ("ts", "type", "client_ip", "helo", "login", "sender", "rcpt",
              "mta_verdict", "mta_dsn", "mta_text", "diagnosis", "severity",
              "action", "session", "queue_id", "event")


class Report:
    def __init__(self, top, by=None):
        self.top = top
        self.by = by
        self.buckets = collections.defaultdict(collections.Counter)
        self.domains = collections.Counter()
        self.seen = set()
        self.dups = 0
        self.bad = 0
        self.types = collections.Counter()
        self.diag = collections.Counter()
        self.diag_sev = {}
        self.diag_refused = collections.Counter()
        self.clients = collections.Counter()
        self.client_refused = collections.Counter()
        self.client_ids = collections.defaultdict(collections.Counter)
        self.senders = collections.Counter()
        self.sender_refused = collections.Counter()
        self.alerts = []
        self.sink = {}
        self.hosts = collections.Counter()
        self.first = self.last = None

    def add(self, ev):
        """Count one event; False when it is a duplicate (same id)."""
        eid = ev.get("id")
        if not isinstance(eid, str) or not str(ev.get("schema", "")).startswith(
                "relaydiag.event/"):
            self.bad += 1
            return False
        if eid in self.seen:
            self.dups += 1
            return False
        self.seen.add(eid)
        t = ev.get("type")
        self.types[t] += 1
        ts = ev.get("ts")
        if isinstance(ts, str):
            self.first = ts if self.first is None or ts < self.first else self.first
            self.last = ts if self.last is None or ts > self.last else self.last
        if ev.get("host"):
            self.hosts[ev["host"]] += 1
        did = get(ev, "diagnosis", "id")
        if t == "rcpt" and did:
            refused = (get(ev, "mta", "verdict") != "accept" or
                       ev.get("action") in ("reject", "tempfail"))
            self.diag[did] += 1
            self.diag_sev[did] = get(ev, "diagnosis", "severity")
            ip = get(ev, "client", "ip") or "-"
            self.clients[ip] += 1
            self.client_ids[ip][did] += 1
            snd = get(ev, "sender", "addr")
            snd = "<>" if snd == "" else (snd or "-")
            self.senders[snd] += 1
            dom = get(ev, "rcpt", "domain")
            self.domains[dom if isinstance(dom, str) else "-"] += refused
            t0 = ev_time(ev)
            if self.by and t0 is not None:
                b = int(t0 // BY_SECONDS[self.by]) * BY_SECONDS[self.by]
                self.buckets[b]["rcpts"] += 1
                self.buckets[b]["refused"] += refused
                self.buckets[b]["id:" + str(did)] += 1
            if refused:
                self.diag_refused[did] += 1
                self.client_refused[ip] += 1
                self.sender_refused[snd] += 1
        elif t == "alert":
            self.alerts.append(ev)
        elif t == "session" and isinstance(ev.get("sink"), dict):
            host = ev.get("host") or "-"
            prev = self.sink.get(host)
            if prev is None or (ts or "") >= prev[0]:
                self.sink[host] = (ts or "", ev["sink"])
        return True

    def print(self, out, source):
        w = out.write
        n = sum(self.types.values())
        w("relaydiag report: %d events from %s" % (n, safe(source, 300)))
        if self.dups:
            w(" (%d duplicates dropped)" % self.dups)
        if self.bad:
            w(" (%d entries that are not relaydiag events skipped)" % self.bad)
        w("\n")
        if self.first:
            w("  from %s to %s; hosts: %s\n" % (
                safe(self.first, 40), safe(self.last, 40),
                ", ".join(safe(h, 40) for h, _ in self.hosts.most_common(5)) or "-"))
        w("  by type: %s\n" % (", ".join(
            "%s %d" % (safe(t, 20), c) for t, c in sorted(
                self.types.items(), key=lambda x: str(x[0]))) or "none"))

        w("\nDiagnoses (recipient decisions)\n")
        w("  %-40s %8s %8s  %s\n" % ("id", "count", "refused", "severity"))
        for did, c in sorted(self.diag.items(), key=lambda x: (-x[1], x[0])):
            w("  %-40s %8d %8d  %s\n" % (safe(did, 40), c,
                                         self.diag_refused[did],
                                         safe(self.diag_sev.get(did), 10)))
        if not self.diag:
            w("  (none)\n")

        w("\nTop clients\n")
        w("  %-40s %8s %8s  %s\n" % ("client", "rcpts", "refused", "most frequent diagnosis"))
        for ip, c in self.clients.most_common(self.top):
            did, dc = self.client_ids[ip].most_common(1)[0]
            w("  %-40s %8d %8d  %s (%d)\n" % (safe(ip, 40), c,
                                              self.client_refused[ip],
                                              safe(did, 40), dc))
        if not self.clients:
            w("  (none)\n")

        w("\nTop senders\n")
        w("  %-40s %8s %8s\n" % ("sender", "rcpts", "refused"))
        for s, c in self.senders.most_common(self.top):
            w("  %-40s %8d %8d\n" % (safe(s, 40), c, self.sender_refused[s]))
        if not self.senders:
            w("  (none)\n")

        w("\nTop refused recipient domains\n")
        tops = [(d, c) for d, c in self.domains.most_common(self.top) if c]
        for d, c in tops:
            w("  %-40s %8d\n" % (safe(d, 40), c))
        if not tops:
            w("  (none)\n")

        if self.by:
            w("\nBy %s (UTC)\n" % self.by)
            w("  %-20s %8s %8s  %s\n" % ("from", "rcpts", "refused",
                                        "most frequent diagnosis"))
            for b in sorted(self.buckets):
                c = self.buckets[b]
                ids = [(k[3:], n) for k, n in c.items() if k.startswith("id:")]
                ids.sort(key=lambda x: (-x[1], x[0]))
                w("  %-20s %8d %8d  %s (%d)\n" % (
                    time.strftime("%Y-%m-%d %H:%M", time.gmtime(b)),
                    c["rcpts"], c["refused"], safe(ids[0][0], 40), ids[0][1]))
            if not self.buckets:
                w("  (none)\n")

        w("\nAlerts\n")
        for ev in self.alerts[-self.top:]:
            w("  %s %s %s: %s %s/%s in %ss; clients %s\n" % (
                safe(ev.get("ts"), 24), safe(get(ev, "diagnosis", "id"), 30),
                safe(get(ev, "diagnosis", "severity"), 10),
                safe(get(ev, "threshold", "metric"), 40),
                safe(get(ev, "threshold", "observed"), 12),
                safe(get(ev, "threshold", "limit"), 12),
                safe(get(ev, "window", "seconds"), 12),
                ", ".join(safe(c, 40) for c in (get(ev, "sample", "clients") or [])[:5]) or "-"))
        if not self.alerts:
            w("  (none)\n")

        w("\nEvent sink (latest session event per host: lost / spooled since start)\n")
        for host, (ts, sk) in sorted(self.sink.items()):
            w("  %-40s dropped %s  spooled %s  (at %s)\n" % (
                safe(host, 40), safe(sk.get("dropped"), 20),
                safe(sk.get("spooled"), 20), safe(ts, 24)))
        if not self.sink:
            w("  (no session event with sink counters)\n")


    def as_json(self, source):
        """The summary as one JSON-ready object."""
        return {
            "source": source,
            "events": sum(self.types.values()),
            "duplicates": self.dups,
            "skipped": self.bad,
            "first": self.first, "last": self.last,
            "types": dict(self.types),
            "diagnoses": [{"id": d, "count": c,
                           "refused": self.diag_refused[d],
                           "severity": self.diag_sev.get(d)}
                          for d, c in sorted(self.diag.items(),
                                             key=lambda x: (-x[1], x[0]))],
            "clients": [{"ip": ip, "rcpts": c,
                         "refused": self.client_refused[ip]}
                        for ip, c in self.clients.most_common(self.top)],
            "senders": [{"addr": s, "rcpts": c,
                         "refused": self.sender_refused[s]}
                        for s, c in self.senders.most_common(self.top)],
            "refused_domains": [{"domain": d, "refused": c} for d, c in
                                self.domains.most_common(self.top) if c],
            "by": None if not self.by else [
                {"from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(b)),
                 "rcpts": c["rcpts"], "refused": c["refused"]}
                for b, c in sorted(self.buckets.items())],
            "alerts": self.alerts[-self.top:],
            "sink": {h: sk for h, (_, sk) in self.sink.items()},
        }


def live_line(ev):
    """One line for --follow, or None for events not shown live."""
    t = ev.get("type")
    if t == "rcpt":
        m = ev.get("mta") or {}
        if not isinstance(m, dict):
            m = {}
        reply = " ".join(safe(x, 10) for x in (m.get("code"), m.get("dsn"))
                         if x)
        sender = get(ev, "sender", "addr")
        return "%s %-8s %-28s %-15s %s -> %s [%s%s]" % (
            safe((ev.get("ts") or "")[11:23], 12), safe(ev.get("action"), 8),
            safe(get(ev, "diagnosis", "id"), 28),
            safe(get(ev, "client", "ip"), 39),
            "<>" if sender == "" else safe(sender, 40),
            safe(get(ev, "rcpt", "addr"), 40),
            safe(m.get("verdict"), 10), " " + reply if reply else "")
    if t == "alert":
        return "%s ALERT    %s: %s" % (safe((ev.get("ts") or "")[11:23], 12),
                                     safe(get(ev, "diagnosis", "id"), 30),
                                     safe(get(ev, "diagnosis", "summary"), 200))
    return None



def csv_cell(v):
    """One CSV cell: escaped like the terminal text (no control byte),
    and never a formula to a spreadsheet (=, +, -, @ first)."""
    s = safe(v, None) if v is not None else ""
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s


def csv_row(ev):
    auth = get(ev, "auth")
    return [csv_cell(x) for x in (
        text(ev, "ts"), text(ev, "type"), text(ev, "client", "ip"),
        text(ev, "client", "helo"),
        text(auth, "user") if isinstance(auth, dict) else "",
        text(ev, "sender", "addr"),
        text(ev, "rcpt", "addr") or text(ev, "delivery", "rcpt"),
        get(ev, "mta", "verdict"), get(ev, "mta", "dsn"),
        get(ev, "mta", "text"), text(ev, "diagnosis", "id"),
        text(ev, "diagnosis", "severity"), text(ev, "action"),
        text(ev, "session"), text(ev, "queue_id"), text(ev, "id"))]


class Output:
    """Where the events that pass the filters go: the summary, the "why"
    stories, JSON Lines or CSV rows."""

    def __init__(self, args, out):
        self.args, self.out = args, out
        self.report = Report(args.top, args.by)
        self.matched = 0
        self.csv = None
        if args.csv:
            self.csv = csv.writer(out, lineterminator="\n")
            self.csv.writerow(CSV_FIELDS)

    def wanted(self, ev):
        a = self.args
        if not in_window(ev, a.since, a.until):
            return False
        return a.who is None or concerns(ev, a.who)

    def add(self, ev, live=False):
        if not self.wanted(ev) or not self.report.add(ev):
            return
        why = self.args.command == "why"
        if why and not is_decision(ev):
            return
        if not why and self.args.json:
            return          # the summary, at the end
        if self.csv is not None:
            if why or ev.get("type") == "rcpt":
                self.csv.writerow(csv_row(ev))
                self.matched += 1
        elif self.args.json:
            self.out.write(json.dumps(ev, ensure_ascii=True,
                                      sort_keys=True) + "\n")
            self.matched += 1
        elif why:
            self.write_story(ev)
            self.matched += 1
        elif live:
            ll = live_line(ev)
            if ll:
                self.out.write(ll + "\n")
        if live:
            self.out.flush()

    def write_story(self, ev):
        w = self.out.write
        head = "%s %s" % (safe(ev.get("type"), 10),
                          "REFUSED" if ev.get("type") == "rcpt" and
                          refused(ev) else "")
        w("\n== %s\n" % head.strip())
        for label, v in story(ev):
            w("  %-14s %s\n" % (label + ":", safe(v, 400)))

    def finish(self, source):
        a, w = self.args, self.out.write
        if a.command == "why":
            if not (a.json or a.csv):
                w("\n%d decision(s) about %s\n" % (
                    self.matched, safe(a.who, 200)) if self.matched else
                  "no decision about %s found in %s\n" % (
                      safe(a.who, 200), safe(source, 300)))
            return 0 if self.matched else 1
        if a.csv:
            return 0 if self.matched else 1
        if a.json:
            w(json.dumps(self.report.as_json(source), ensure_ascii=True,
                         sort_keys=True, indent=1) + "\n")
        else:
            if a.follow:
                w("\n")
            self.report.print(self.out, source)
        return 0 if self.report.types else 1


def read_file(path, follow, until, sink):
    fp = sys.stdin.buffer if path == "-" else open(path, "rb")
    pending = b""
    while True:
        chunk = fp.readline()
        if chunk:
            pending += chunk
            if not pending.endswith(b"\n"):
                continue            # a line still being written
            line, pending = pending, b""
            try:
                ev = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                sink.report.bad += 1
                continue
            if isinstance(ev, dict):
                sink.add(ev, live=follow)
            continue
        if not follow or (until and time.time() >= until):
            if pending.strip():
                sink.report.bad += 1     # torn last line (crash): skipped
            return
        time.sleep(0.5)


def read_stream(r, args, until, sink):
    if not args.follow:
        for ev in stream_all(r, args.stream):
            sink.add(ev)
        return
    f = Follower(r, args.stream, args.group, args.consumer,
                 "$" if args.group else (args.from_id or "$"))
    while not until or time.time() < until:
        block = 1000 if not until else max(
            1, min(1000, int((until - time.time()) * 1000)))
        for _, ev in f.read(block):
            if ev is not None:
                sink.add(ev, live=True)
        sink.out.flush()
        f.ack()


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="relaydiag-report",
        description="Summarize relaydiag events from the Redis stream or "
        "a JSON Lines file, or explain every decision about one client, "
        "address or session: relaydiag-report why 203.0.113.5")
    ap.add_argument("command", nargs="?", choices=("summary", "why"),
                    default="summary",
                    help="summary (default), or why WHO")
    ap.add_argument("who", nargs="?",
                    help="with why: a client IP address, an email address "
                    "(sender, recipient or login), a session id or a "
                    "queue id")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--redis", metavar="URL",
                     default=os.environ.get("RELAYDIAG_REDIS_URL", DEFAULT_URL),
                     help="Redis URL (default $RELAYDIAG_REDIS_URL or %s)"
                     % DEFAULT_URL)
    src.add_argument("--file", metavar="PATH",
                     help="read the JSON Lines event log instead ('-': stdin)")
    ap.add_argument("--stream", default=DEFAULT_STREAM,
                    help="stream key (default %s)" % DEFAULT_STREAM)
    ap.add_argument("--since", metavar="WHEN",
                    help="only events at or after WHEN: 30m, 2h, 7d (ago), "
                    "10:42 (today), 2026-12-07T10:42, Unix seconds")
    ap.add_argument("--until", metavar="WHEN",
                    help="only events before WHEN (same forms)")
    ap.add_argument("--client", "--who", dest="filter_who", metavar="WHO",
                    help="summary of the events about WHO only (as why)")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help="JSON: the summary as one object; with why, the "
                     "events themselves, one per line")
    fmt.add_argument("--csv", action="store_true",
                     help="CSV: one row per recipient decision (with why: "
                     "per decision)")
    ap.add_argument("--by", choices=sorted(BY_SECONDS),
                    help="add a table of recipients and refusals per "
                    "minute, hour or day")
    ap.add_argument("--follow", "-f", action="store_true",
                    help="show events as they arrive, then the summary")
    ap.add_argument("--from-id", metavar="ID",
                    help="with --follow: start after this stream entry id "
                    "(default: new entries only)")
    ap.add_argument("--group", metavar="NAME",
                    help="with --follow: read as consumer group NAME "
                    "(created at $ if missing) and XACK what was read")
    ap.add_argument("--consumer", default="report-%s-%d" % (
        socket.gethostname(), os.getpid()),
                    help="consumer name within --group")
    ap.add_argument("--max-time", type=float, metavar="SECONDS",
                    help="with --follow: stop after this long")
    ap.add_argument("--top", type=int, default=10,
                    help="rows in the top tables (default 10)")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="Redis connect/reply timeout in seconds (default 5)")
    args = ap.parse_args(argv)
    if args.command == "why" and not args.who:
        ap.error("why needs WHO: an IP address, an email address, a "
                 "session id or a queue id")
    if args.command == "summary" and args.who:
        ap.error("unexpected argument %s (did you mean: why %s?)" % (
            safe(args.who, 60), safe(args.who, 60)))
    if args.filter_who:
        args.who = args.filter_who
    if args.group and not args.follow:
        ap.error("--group needs --follow")
    try:
        args.since = parse_when(args.since) if args.since else None
        args.until = parse_when(args.until) if args.until else None
    except ValueError as e:
        ap.error(safe(str(e), 200))
    return args


def main(argv=None):
    args = parse_args(argv)
    source = "file %s" % args.file if args.file else "redis %s" % args.redis
    until = time.time() + args.max_time if args.max_time else None
    # Safe in any locale: what the terminal's encoding cannot show is
    # written as a \\u escape, never an UnicodeEncodeError.
    for f in (sys.stdout, sys.stderr):
        f.reconfigure(errors="backslashreplace")
    sink = Output(args, sys.stdout)
    try:
        if args.file:
            read_file(args.file, args.follow, until, sink)
        else:
            r = Redis(args.redis, args.timeout)
            source = "redis %s, stream %s" % (r.where, args.stream)
            if args.group:
                source += ", group %s" % args.group
            read_stream(r, args, until, sink)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        raise
    except (OSError, RedisError, ValueError) as e:
        sys.stderr.write("relaydiag-report: %s\n" % safe(str(e), 300))
        return 2
    return sink.finish(source)


def run():
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug: never exit 1, which means "no events"
        sys.stderr.write("relaydiag-report: internal error: %s\n" %
                         safe(repr(e), 300))
        sys.exit(3)

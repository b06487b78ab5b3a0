"""relaydiag_tools.dashboard - relaydiag-dashboard(1): a live web page on
relaydiag's Redis stream.

Owns the dashboard's server: one thread reads the stream as a member of a
consumer group (XREADGROUP, XACK; the last entries are read once at start
so the page is not empty), a model of what the page shows, and a small
HTTP server (Python's standard library) for the page, its script and a
JSON API:

  GET /                  the page (web/index.html, app.js, style.css)
  GET /api/summary?after=V   the model; waits up to 20 s for a version > V
  GET /api/why?q=WHO     every decision about an IP, address or session
  GET /healthz           "ok" (no login needed)

Security: it listens on 127.0.0.1 by default, and refuses to listen
elsewhere without a login (--basic-auth-file or --token-file). It answers
only requests whose Host is its own address or a loopback name (DNS
rebinding). Every string from an event reaches the browser inside JSON,
and the page writes it with textContent, under a Content-Security-Policy
that allows no inline script: a hostile HELO is text, never markup.
Nothing is loaded from outside: no CDN.
"""

import argparse
import base64
import collections
import hmac
import http.server
import ipaddress
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

from .events import concerns, ev_time, get, is_decision, refused, safe, \
    story, text
from .stream import DEFAULT_STREAM, DEFAULT_URL, Follower, Redis, \
    RedisError, stream_last

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
MINUTES = 60          # the chart's span
LIST_MAX = 50         # latest refusals, alerts
FIELD_MAX = 1000      # characters of one string sent to the page
POLL_S = 20           # long poll
CONNS_MAX = 64        # requests served at once


def cut(v, n=FIELD_MAX):
    """A string member for the page: a string, cut to n characters, or
    None. Escaping is the page's (textContent), not this."""
    if v is None or isinstance(v, bool):
        return None
    v = v if isinstance(v, str) else str(v)
    return v if len(v) <= n else v[:n - 1] + "\u2026"


def refusal_row(ev):
    return {
        "id": cut(text(ev, "id")), "ts": cut(text(ev, "ts")),
        "client": cut(text(ev, "client", "ip")),
        "helo": cut(text(ev, "client", "helo")),
        "login": cut(text(ev, "auth", "user")),
        "sender": cut(text(ev, "sender", "addr")),
        "rcpt": cut(text(ev, "rcpt", "addr") or text(ev, "delivery", "rcpt")),
        "mta": cut(" ".join(str(x) for x in (
            get(ev, "mta", "code"), get(ev, "mta", "dsn"),
            get(ev, "mta", "text")) if x)),
        "diagnosis": cut(text(ev, "diagnosis", "id")),
        "severity": cut(text(ev, "diagnosis", "severity")),
        "summary": cut(text(ev, "diagnosis", "summary")),
        "remedy_client": cut(text(ev, "diagnosis", "remedy_client")),
        "remedy_admin": cut(text(ev, "diagnosis", "remedy_admin")),
        "session": cut(text(ev, "session")),
        "front_end": cut(text(ev, "front_end")),
    }


class Model:
    """What the page shows, built from the events; every method takes the
    lock. Bounded: the events kept for "why" (keep), the ids seen
    (dedupe, twice that), the chart's minutes, the lists."""

    def __init__(self, keep=20000):
        self.cond = threading.Condition()
        self.version = 0
        self.keep = keep
        self.events = collections.deque(maxlen=keep)
        self.seen = set()
        self.seen_order = collections.deque()
        self.minutes = collections.OrderedDict()
        self.refusals = collections.deque(maxlen=LIST_MAX)
        self.alerts = collections.deque(maxlen=LIST_MAX)
        self.clients = collections.Counter()
        self.client_refused = collections.Counter()
        self.senders = collections.Counter()
        self.domains = collections.Counter()
        self.types = collections.Counter()
        self.rcpts = self.refused = 0
        self.redis = {"ok": False, "error": None, "since": None}
        self.last_ts = None

    def add(self, ev):
        """One event; False for a duplicate or a non-event."""
        if not isinstance(ev, dict):
            return False
        eid = ev.get("id")
        if not isinstance(eid, str):
            return False
        with self.cond:
            if eid in self.seen:
                return False
            self.seen.add(eid)
            self.seen_order.append(eid)
            while len(self.seen_order) > 2 * self.keep:
                self.seen.discard(self.seen_order.popleft())
            self._count(ev)
            self.version += 1
            self.cond.notify_all()
        return True

    def _count(self, ev):
        t = ev.get("type")
        self.types[t if isinstance(t, str) else "?"] += 1
        ts = text(ev, "ts")
        if ts and (self.last_ts is None or ts > self.last_ts):
            self.last_ts = ts
        if is_decision(ev):
            self.events.append(ev)
        did = text(ev, "diagnosis", "id")
        if t == "alert":
            clients = get(ev, "sample", "clients")
            if not isinstance(clients, list):
                clients = []
            self.alerts.appendleft({
                "id": cut(text(ev, "id")), "ts": cut(ts),
                "diagnosis": cut(did),
                "severity": cut(text(ev, "diagnosis", "severity")),
                "summary": cut(text(ev, "diagnosis", "summary")),
                "remedy_admin": cut(text(ev, "diagnosis", "remedy_admin")),
                "observed": get(ev, "threshold", "observed")
                if isinstance(get(ev, "threshold", "observed"), int) else None,
                "clients": [cut(c, 64) for c in clients[:5]
                            if isinstance(c, str)]})
            return
        if t not in ("rcpt", "delivery") or not did:
            return
        bad = t == "delivery" or refused(ev)
        t0 = ev_time(ev)
        if t0 is not None:
            m = int(t0 // 60) * 60
            if m not in self.minutes:
                self.minutes[m] = collections.Counter()
                for k in sorted(self.minutes)[:-MINUTES * 2]:
                    del self.minutes[k]
            if m in self.minutes:
                self.minutes[m][did] += 1
        if t == "rcpt":
            self.rcpts += 1
            ip = text(ev, "client", "ip") or "-"
            self.clients[ip] += 1
            snd = text(ev, "sender", "addr")
            self.senders["<>" if snd == "" else (snd or "-")] += 1
            if bad:
                self.client_refused[ip] += 1
        if bad:
            self.refused += 1
            dom = text(ev, "rcpt", "domain") or text(ev, "delivery", "domain")
            self.domains[dom or "-"] += 1
            self.refusals.appendleft(refusal_row(ev))

    def summary(self, now=None):
        now = time.time() if now is None else now
        with self.cond:
            end = int(now // 60) * 60
            starts = [end - 60 * i for i in range(MINUTES - 1, -1, -1)]
            ids = sorted({d for m in starts for d in self.minutes.get(m, {})})
            series = {d: [self.minutes.get(m, {}).get(d, 0) for m in starts]
                      for d in ids}
            top = lambda c, n=10: [[cut(k, 200), v] for k, v in
                                   c.most_common(n)]
            return {
                "version": self.version,
                "redis": dict(self.redis),
                "last_event": self.last_ts,
                "totals": {"events": sum(self.types.values()),
                           "rcpts": self.rcpts, "refused": self.refused,
                           "alerts": self.types.get("alert", 0)},
                "chart": {"minutes": starts, "series": series},
                "refusals": list(self.refusals),
                "alerts": list(self.alerts),
                "top": {"clients": [[cut(k, 200), v, self.client_refused[k]]
                                    for k, v in self.clients.most_common(10)],
                        "senders": top(self.senders),
                        "domains": top(self.domains)},
            }

    def why(self, q, limit=200):
        with self.cond:
            found = [ev for ev in self.events if concerns(ev, q)]
        found = found[-limit:]
        found.reverse()
        return [{"type": cut(ev.get("type")),
                 "refused": ev.get("type") == "delivery" or refused(ev),
                 "story": [[k, cut(v)] for k, v in story(ev)]}
                for ev in found]

    def wait(self, after, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.version > after, timeout)
            return self.version

    def set_redis(self, ok, error=None):
        with self.cond:
            if ok != self.redis["ok"] or error != self.redis["error"]:
                self.redis = {"ok": ok, "error": error,
                              "since": time.strftime(
                                  "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                self.version += 1
                self.cond.notify_all()


def consume(model, args, stop):
    """The stream into the model, for ever: reconnects with backoff."""
    backoff = 0.5
    first = True
    while not stop.is_set():
        try:
            r = Redis(args.redis, args.timeout)
            if first:
                for ev in stream_last(r, args.stream, args.backlog):
                    model.add(ev)
                first = False
            f = Follower(r, args.stream, args.group, args.consumer, "$")
            model.set_redis(True)
            backoff = 0.5
            while not stop.is_set():
                for _, ev in f.read(1000):
                    if ev is not None:
                        model.add(ev)
                f.ack()
        except (OSError, RedisError, ValueError) as e:
            model.set_redis(False, safe(str(e), 200))
            stop.wait(backoff)
            backoff = min(backoff * 2, 10)


class Auth:
    """Who may see the page: nobody checks (local default), HTTP Basic
    against user:password lines, and/or a bearer token."""

    def __init__(self, basic_file=None, token_file=None):
        self.basic, self.token = [], None
        if basic_file:
            with open(basic_file, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    line = line.rstrip("\n")
                    if not line or line.startswith("#"):
                        continue
                    if ":" not in line:
                        raise ValueError("%s:%d: not user:password" %
                                         (basic_file, n))
                    self.basic.append(line.encode("utf-8"))
            if not self.basic:
                raise ValueError("%s: no user:password line" % basic_file)
        if token_file:
            with open(token_file, encoding="utf-8") as f:
                self.token = f.read().strip().encode("utf-8")
            if len(self.token) < 16:
                raise ValueError("%s: the token must be at least 16 "
                                 "characters" % token_file)

    @property
    def on(self):
        return bool(self.basic or self.token)

    def ok(self, header):
        if not self.on:
            return True
        if not header:
            return False
        kind, _, cred = header.partition(" ")
        kind = kind.lower()
        if kind == "bearer" and self.token:
            return hmac.compare_digest(cred.strip().encode("utf-8"),
                                       self.token)
        if kind == "basic" and self.basic:
            try:
                got = base64.b64decode(cred.strip(), validate=True)
            except ValueError:
                return False
            good = False
            for b in self.basic:        # no early exit: constant work
                good |= hmac.compare_digest(got, b)
            return good
        return False


def make_handler(model, auth, hosts):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "relaydiag-dashboard"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = 30

        def log_message(self, fmt, *a):
            sys.stderr.write("relaydiag-dashboard: %s %s\n" % (
                safe(self.client_address[0], 64), safe(fmt % a, 300)))

        def _send(self, code, body, ctype, extra=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj):
            self._send(200, json.dumps(obj, ensure_ascii=True).encode(),
                       "application/json")

        def _host_ok(self):
            h = (self.headers.get("Host") or "").strip().lower()
            if h.startswith("["):
                h = h[1:].split("]", 1)[0]
            else:
                h = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
            return h in hosts

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            if u.path == "/healthz":
                return self._send(200, b"ok\n", "text/plain; charset=utf-8")
            if not self._host_ok():
                return self._send(421, b"unknown Host\n",
                                  "text/plain; charset=utf-8")
            if not auth.ok(self.headers.get("Authorization")):
                return self._send(
                    401, b"login needed\n", "text/plain; charset=utf-8",
                    [("WWW-Authenticate",
                      'Basic realm="relaydiag", charset="UTF-8"')]
                    if auth.basic else [])
            q = urllib.parse.parse_qs(u.query)
            if u.path in STATIC:
                name, ctype = STATIC[u.path]
                with open(os.path.join(WEB, name), "rb") as f:
                    return self._send(200, f.read(), ctype)
            if u.path == "/api/summary":
                try:
                    after = int(q.get("after", ["-1"])[0])
                except ValueError:
                    after = -1
                if after >= 0:
                    model.wait(after, POLL_S)
                return self._json(model.summary())
            if u.path == "/api/why":
                who = (q.get("q", [""])[0]).strip()[:320]
                if not who:
                    return self._json({"q": "", "decisions": []})
                return self._json({"q": who, "decisions": model.why(who)})
            return self._send(404, b"not found\n",
                              "text/plain; charset=utf-8")

        def _refuse(self):
            self._send(405, b"only GET and HEAD\n",
                       "text/plain; charset=utf-8", [("Allow", "GET, HEAD")])

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, addr, handler, family):
        self.address_family = family
        self.slots = threading.BoundedSemaphore(CONNS_MAX)
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)      # too many at once
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def parse_listen(s):
    """HOST:PORT, [V6]:PORT or PORT (127.0.0.1) -> (host, port)."""
    if s.isdigit():
        host, port = "127.0.0.1", s
    elif s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("--listen %s: not HOST:PORT, [IPv6]:PORT or PORT" %
                         s)
    return host, int(port)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="relaydiag-dashboard",
        description="A live web page on relaydiag's Redis stream.")
    ap.add_argument("--redis", metavar="URL",
                    default=os.environ.get("RELAYDIAG_REDIS_URL", DEFAULT_URL),
                    help="Redis URL (default $RELAYDIAG_REDIS_URL or %s)"
                    % DEFAULT_URL)
    ap.add_argument("--stream", default=DEFAULT_STREAM,
                    help="stream key (default %s)" % DEFAULT_STREAM)
    ap.add_argument("--listen", default="127.0.0.1:8491",
                    metavar="HOST:PORT",
                    help="where to serve the page (default 127.0.0.1:8491)")
    ap.add_argument("--group", default="relaydiag-dashboard",
                    help="consumer group (default relaydiag-dashboard)")
    ap.add_argument("--consumer", default="dashboard-%s" %
                    socket.gethostname(),
                    help="consumer name (default dashboard-HOSTNAME)")
    ap.add_argument("--backlog", type=int, default=5000,
                    help="events read at start, newest last (default 5000)")
    ap.add_argument("--keep", type=int, default=20000,
                    help="decisions kept in memory for search "
                    "(default 20000)")
    ap.add_argument("--basic-auth-file", metavar="FILE",
                    help="user:password lines: HTTP Basic login")
    ap.add_argument("--token-file", metavar="FILE",
                    help="a token (16+ characters): Authorization: Bearer")
    ap.add_argument("--allow-host", action="append", default=[],
                    metavar="NAME",
                    help="also answer requests for this Host name")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="Redis timeout in seconds (default 5)")
    args = ap.parse_args(argv)
    try:
        host, port = parse_listen(args.listen)
        auth = Auth(args.basic_auth_file, args.token_file)
    except (OSError, ValueError) as e:
        sys.stderr.write("relaydiag-dashboard: %s\n" % safe(str(e), 300))
        return 2
    if not is_loopback(host) and not auth.on:
        sys.stderr.write(
            "relaydiag-dashboard: --listen %s is not a loopback address: "
            "set --basic-auth-file or --token-file (the events name your "
            "users and clients)\n" % safe(args.listen, 100))
        return 2
    hosts = {"localhost", "127.0.0.1", "::1", host.lower()}
    hosts.update(h.lower() for h in args.allow_host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    model = Model(args.keep)
    try:
        srv = Server((host, port), make_handler(model, auth, hosts), family)
    except OSError as e:
        sys.stderr.write("relaydiag-dashboard: cannot listen on %s: %s\n" %
                         (safe(args.listen, 100), safe(str(e), 200)))
        return 2
    stop = threading.Event()
    t = threading.Thread(target=consume, args=(model, args, stop),
                         daemon=True)
    t.start()
    sys.stderr.write("relaydiag-dashboard: http://%s:%d/ (stream %s, "
                     "group %s)\n" % (safe(host, 100), port,
                                      safe(args.stream, 100),
                                      safe(args.group, 100)))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    stop.set()
    srv.server_close()
    return 0


def run():
    import signal
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    sys.exit(main())

"""relaydiag_tools.stream - relaydiag's Redis stream, read with the Python
standard library only: a minimal RESP2 client, the event of a stream entry,
the whole stream in pages, and a reader that follows it (XREAD, or
XREADGROUP with XACK as docs/consumers.md describes).

URL forms as in relaydiag.conf: redis://[[user]:password@]host[:port][/db],
unix://[[user]:password@]/path[?db=N].
"""

import json
import socket
import urllib.parse

DEFAULT_URL = "redis://127.0.0.1:6379"
DEFAULT_STREAM = "relaydiag:events"


class RedisError(Exception):
    pass


class Redis:
    """A minimal RESP2 client: one connection, one command at a time."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        user = urllib.parse.unquote(u.username) if u.username else None
        password = urllib.parse.unquote(u.password) if u.password else None
        if u.username is not None and u.password is None and ":" not in u.netloc.split("@")[0]:
            # "redis://secret@host": a password alone, as redis-cli reads it
            user, password = None, urllib.parse.unquote(u.username)
        db = 0
        if u.scheme == "redis":
            if not u.hostname:
                raise RedisError("%s: no host" % url)
            self.where = "%s:%d" % (u.hostname, u.port or 6379)
            self.sock = socket.create_connection((u.hostname, u.port or 6379),
                                                 timeout=timeout)
            if u.path.strip("/"):
                db = int(u.path.strip("/"))
        elif u.scheme == "unix":
            self.where = u.path
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(u.path)
            q = urllib.parse.parse_qs(u.query)
            if "db" in q:
                db = int(q["db"][0])
        else:
            raise RedisError("%s: not redis:// or unix:// (rediss:// is not "
                             "supported)" % url)
        self.timeout = timeout
        self.buf = b""
        if password is not None:
            self.call(*(["AUTH", user, password] if user else
                        ["AUTH", password]))
        if db:
            self.call("SELECT", db)

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RedisError("connection closed by %s" % self.where)
        self.buf += chunk

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            raise RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._reply() for _ in range(n)]
        raise RedisError("protocol error: %r" % line[:40])

    def call(self, *args, block_ms=0):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode("utf-8")
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.settimeout(self.timeout + block_ms / 1000.0)
        self.sock.sendall(b"".join(out))
        return self._reply()


def entry_event(fields):
    """The event object of one stream entry ([k, v, k, v ...]), or None."""
    d = {}
    if not fields:                  # a pending entry trimmed away meanwhile
        return None
    for i in range(0, len(fields) - 1, 2):
        d[fields[i]] = fields[i + 1]
    raw = d.get(b"event")
    if raw is None:
        return None
    try:
        ev = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return ev if isinstance(ev, dict) else None


def stream_all(r, key, count=1000):
    """Every event of the stream, oldest first (XRANGE in pages)."""
    start = "-"
    while True:
        page = r.call("XRANGE", key, start, "+", "COUNT", count)
        if not page:
            return
        for sid, fields in page:
            ev = entry_event(fields)
            if ev is not None:
                yield ev
        if len(page) < count:
            return
        start = "(" + page[-1][0].decode()


class Follower:
    """New entries of a stream as they arrive. With group, as a member of
    that consumer group (created at start_id when missing, "$" by
    default): first this consumer's own pending entries (read before a
    crash, never acknowledged), then new ones; read() returns a batch and
    ack() acknowledges it. Without group: XREAD after start_id ("$": new
    entries only), and ack() does nothing."""

    def __init__(self, r, key, group=None, consumer=None, start_id="$"):
        self.r, self.key, self.group, self.consumer = r, key, group, consumer
        self.pending = []
        if group:
            try:
                r.call("XGROUP", "CREATE", key, group, start_id, "MKSTREAM")
            except RedisError as e:
                if not str(e).startswith("BUSYGROUP"):
                    raise
            self.last = "0"
        else:
            self.last = start_id

    def read(self, block_ms, count=256):
        """[(entry id, event or None)] within block_ms (may be empty)."""
        while True:
            if self.group:
                reply = self.r.call("XREADGROUP", "GROUP", self.group,
                                    self.consumer, "COUNT", count, "BLOCK",
                                    block_ms, "STREAMS", self.key, self.last,
                                    block_ms=block_ms)
            else:
                reply = self.r.call("XREAD", "COUNT", count, "BLOCK",
                                    block_ms, "STREAMS", self.key, self.last,
                                    block_ms=block_ms)
            entries = reply[0][1] if reply else []
            if self.group and self.last == "0" and not entries:
                self.last = ">"         # own pending list done
                continue
            out = []
            for sid, fields in entries:
                if not self.group or self.last != ">":
                    self.last = sid.decode()
                out.append((sid, entry_event(fields)))
            self.pending = [sid for sid, _ in out]
            return out

    def ack(self):
        if self.group and self.pending:
            self.r.call("XACK", self.key, self.group, *self.pending)
        self.pending = []


def stream_last(r, key, n):
    """The last n events of the stream, oldest first (XREVRANGE)."""
    page = r.call("XREVRANGE", key, "+", "-", "COUNT", n) or []
    out = []
    for sid, fields in reversed(page):
        ev = entry_event(fields)
        if ev is not None:
            out.append(ev)
    return out

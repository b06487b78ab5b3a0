"""relaydiag_tools.events - what the tools know of relaydiag's events
(docs/events.md): members by path, the event's time, whether a recipient
was refused, which events concern a client, an address or a session, the
explanation of one decision, and text made safe for a terminal.

Every value of an event may come from the network (HELO names, addresses,
AUTH user names): nothing here trusts its type or its content.
"""

import datetime
import re
import time
import unicodedata

# Categories never shown raw: controls (C0, DEL, C1), format characters
# (bidi overrides and isolates U+202A..U+202E, U+2066..U+2069, zero-width
# characters), line and paragraph separators (U+2028, U+2029), surrogates,
# private use and unassigned code points.
UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"))


def safe(s, limit=60):
    """Any value from an event, whatever its type, made safe for a
    terminal: one line, no escape sequence, no bidi trick; cut to limit
    characters (None: no cut)."""
    if s is None:
        return "-"
    if isinstance(s, bool):
        s = "true" if s else "false"
    s = str(s)
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif o < 0x100 and unicodedata.category(ch) in UNSAFE_CATEGORIES:
            out.append("\\x%02x" % o)
        elif ch == "\ufffd":
            out.append("\\ufffd")
        elif unicodedata.category(ch) in UNSAFE_CATEGORIES:
            out.append("\\u%04x" % o if o <= 0xffff else "\\U%08x" % o)
        else:
            out.append(ch)
    s = "".join(out)
    if limit is None or len(s) <= limit:
        return s
    return s[:limit - 3] + "..."


def get(ev, *path):
    for p in path:
        if not isinstance(ev, dict):
            return None
        ev = ev.get(p)
    return ev


def text(ev, *path):
    """A member that must be a string: the string, or None."""
    v = get(ev, *path)
    return v if isinstance(v, str) else None


def refused(ev):
    """A rcpt event whose recipient the MTA or relaydiag refused."""
    return (get(ev, "mta", "verdict") not in (None, "accept") or
            ev.get("action") in ("reject", "tempfail"))


def ev_time(ev):
    """The event's ts as Unix seconds, or None."""
    ts = ev.get("ts") if isinstance(ev, dict) else None
    if not isinstance(ts, str):
        return None
    try:
        return datetime.datetime.strptime(
            ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        try:
            return datetime.datetime.strptime(
                ts, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            return None


_REL = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(s, now=None):
    """A time from the command line, as Unix seconds: "30m", "2h", "7d"
    (that long ago), "HH:MM[:SS]" (today, local time), an ISO date or
    date and time ("2026-12-07", "2026-12-07T10:42", "2026-12-07 10:42:05",
    local time unless it ends in Z or an offset), or Unix seconds.
    Raises ValueError with a sentence."""
    now = time.time() if now is None else now
    s = s.strip()
    m = _REL.match(s)
    if m:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    if re.match(r"^\d{9,11}(\.\d+)?$", s):
        return float(s)
    if re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", s):
        today = datetime.datetime.fromtimestamp(now).date().isoformat()
        s = today + "T" + s
    try:
        iso = s.replace(" ", "T", 1)
        if iso.endswith("Z"):
            iso = iso[:-1] + "+00:00"
        d = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("%r is not a time (try 30m, 2h, 10:42, "
                         "2026-12-07T10:42 or Unix seconds)" % s) from None
    return d.timestamp()


def concerns(ev, who):
    """Whether the event concerns who: a client IP address, an email
    address (sender, recipient, AUTH user), a session id or a queue id.
    Addresses compare without case."""
    w = who.lower()
    for path in (("client", "ip"), ("session",), ("queue_id",)):
        if text(ev, *path) == who:
            return True
    for path in (("sender", "addr"), ("rcpt", "addr"), ("auth", "user"),
                 ("auth_failure", "user"), ("delivery", "rcpt")):
        v = text(ev, *path)
        if v is not None and v.lower() == w:
            return True
    clients = get(ev, "sample", "clients")
    return isinstance(clients, list) and who in clients


def in_window(ev, since, until):
    if since is None and until is None:
        return True
    t = ev_time(ev)
    if t is None:
        return False
    return (since is None or t >= since) and (until is None or t < until)


def story(ev):
    """The explanation of one decision, as (label, value) pairs: when,
    who, what the MTA said, the diagnosis and both remedies. Values are
    raw (callers escape them for their medium)."""
    out = []
    t = ev.get("type")
    out.append(("when", text(ev, "ts")))
    cl = text(ev, "client", "ip")
    if cl:
        who = cl
        name = text(ev, "client", "name")
        if name and name != "unknown":
            who = "%s [%s]" % (name, cl)
        port = get(ev, "server", "port")
        if isinstance(port, int):
            who += ", to port %d%s" % (
                port, " (submission)" if get(ev, "server", "submission")
                is True else "")
        out.append(("client", who))
    helo = text(ev, "client", "helo")
    if helo is not None:
        out.append(("helo", helo))
    tls = get(ev, "tls")
    out.append(("tls", text(tls, "version") if isinstance(tls, dict)
                else "none"))
    auth = get(ev, "auth")
    out.append(("login", "%s (%s)" % (text(auth, "user"), text(auth, "mech"))
                if isinstance(auth, dict) else "none"))
    snd = text(ev, "sender", "addr")
    if snd is not None:
        out.append(("sender", "<%s>" % snd))
    if t == "rcpt":
        out.append(("recipient", "<%s> (%s)" % (text(ev, "rcpt", "addr"),
                                               text(ev, "rcpt", "class"))))
        mta = " ".join(str(x) for x in (
            get(ev, "mta", "verdict"), get(ev, "mta", "code"),
            get(ev, "mta", "dsn"), get(ev, "mta", "text")) if x)
        out.append(("mta said", mta))
        out.append(("relaydiag", "action %s" % text(ev, "action")))
    elif t == "delivery":
        out.append(("recipient", "<%s>" % text(ev, "delivery", "rcpt")))
        out.append(("remote server", text(ev, "delivery", "relay", "host")))
        out.append(("remote said", " ".join(str(x) for x in (
            get(ev, "delivery", "reply", "code"),
            get(ev, "delivery", "reply", "dsn"),
            get(ev, "delivery", "reply", "text")) if x)))
    out.append(("diagnosis", "%s (%s)" % (text(ev, "diagnosis", "id"),
                                         text(ev, "diagnosis", "severity"))))
    for label, key in (("why", "summary"), ("fix (client)", "remedy_client"),
                       ("fix (admin)", "remedy_admin")):
        v = text(ev, "diagnosis", key)
        if v:
            out.append((label, v))
    out.append(("event", "%s, session %s%s" % (
        text(ev, "id"), text(ev, "session"),
        ", queue id %s" % text(ev, "queue_id") if text(ev, "queue_id")
        else "")))
    return out


def is_decision(ev):
    """An event that explains a decision: rcpt, delivery, alert, auth."""
    return (isinstance(ev, dict) and ev.get("type") in
            ("rcpt", "delivery", "alert", "auth") and
            isinstance(ev.get("diagnosis"), dict))

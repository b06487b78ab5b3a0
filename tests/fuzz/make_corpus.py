#!/usr/bin/python3
"""make_corpus.py - write the seed corpus of every fuzz target.

usage: tests/fuzz/make_corpus.py        (from anywhere; rewrites corpus/*/seed-*)

The seeds are real-looking inputs in each target's input format (see the
comment at the top of each fuzz_*.c): the macro values Postfix 3.7 sends
(shared/design/postfix-notes.md), the config files of tests/data/config,
and hostile strings (CR, LF, NUL, '%', 8-bit and invalid UTF-8, over-long
values). Fields are NUL-separated; "\\x01" stands for NULL. Files named
regress-* are inputs that once found a bug (REGRESS at the end); a crash
file committed by hand under that name is kept too: only seed-* files are
deleted first.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
NULL = b"\x01"


def b(s):
    """bytes as given; str: "\xff" is the byte 0xff, beyond 0xff UTF-8"""
    if isinstance(s, bytes):
        return s
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def fields(*xs):
    """NUL-separated fields; ints are raw bytes (u8), tuples ('u16', n)."""
    out = b""
    for x in xs:
        if isinstance(x, int):
            out += bytes([x & 0xff])
        elif isinstance(x, tuple) and x[0] == "u16":
            out += struct.pack(">H", x[1])
        else:
            out += b(x) + b"\0"
    return out


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for name, data in seeds:
        with open(os.path.join(d, "seed-" + name), "wb") as fp:
            fp.write(data)


LONG_LOCAL = "a" * 65
LONG_LABEL = "b" * 64
LONG_DOMAIN = ".".join(["c" * 63] * 4) + ".test"  # 260 octets
HOSTILE = [
    ("crlf", "bob@example.org>\r\nX-Injected: yes"),
    ("lf", "UserPC\nX-Relay-Diagnostic: forged"),
    ("percent", "%s%n%%%d@example.org"),
    ("latin1", "b\xf6b@example.org".encode("latin-1")),
    ("utf8", "j\u00fcrgen@b\u00fccher.example".encode("utf-8")),
    ("overlong", b"\xc0\xaf\xe0\x80\xaf@x.test"),
    ("surrogate", b"\xed\xa0\x80@x.test"),
    ("c1", b"\xc2\x85\xc2\x9b[2J@x.test"),
    ("esc", "\x1b[31mred\x1b[0m"),
    ("backslash", "\\x0d\\x0a@x.test"),
    ("long-8bit", b"\xff" * 300),
]

# ---- fuzz_addr: one string ------------------------------------------------
addr = [
    ("rcpt", "<bob@gmail.test>"),
    ("null-sender", "<>"),
    ("postmaster", "postmaster"),
    ("no-brackets", "alice@Example.ORG"),
    ("trailing-dot", "<alice@example.org.>"),
    ("route", "<@a.test,@b.test:u@c.test>"),
    ("quoted", '"a b"@x.test'),
    ("quoted-at", '<"a@b"@x.test>'),
    ("quoted-empty", '""@x.test'),
    ("lit4", "u@[192.0.2.1]"),
    ("lit6", "<u@[IPv6:2001:DB8::1]>"),
    ("lit-bad-tag", "u@[foo:1]"),
    ("dots", "a..b.@docomo.ne.jp"),
    ("two-at", "a@b@c.test"),
    ("long-local", "<%s@x.test>" % LONG_LOCAL),
    ("long-label", "u@%s.test" % LONG_LABEL),
    ("long-domain", "u@" + LONG_DOMAIN),
    ("helo-userpc", "UserPC"),
    ("helo-desktop", "DESKTOP-4F2K"),
    ("helo-fqdn", "mail.example.org"),
    ("helo-literal", "[192.0.2.5]"),
    ("helo-ip", "192.0.2.1"),
    ("helo-localhost", "localhost"),
    ("hyphen", "u@-bad-.test"),
] + HOSTILE
write("fuzz_addr", [(n, b(s)) for n, s in addr])

# ---- fuzz_netset: list, then addresses ------------------------------------
write("fuzz_netset", [
    ("default", fields("127.0.0.0/8 [::1]/128", "127.0.0.1", "::1",
                       "[::1]", "::ffff:127.0.0.1", "192.0.2.5")),
    ("mynetworks", fields("192.0.2.0/24, [2001:db8::]/32 10.0.0.0/8",
                          "192.0.2.77", "2001:db8::25", "IPv6:2001:db8::1",
                          "[192.0.2.1]", "fe80::1%eth0", "10.1.2.3/8")),
    ("mapped", fields("[::ffff:127.0.0.0]/104", "127.9.9.9",
                      "[::ffff:127.0.0.0]/104", "::ffff:10.0.0.1")),
    ("host-bits", fields("10.1.2.3/8", "10.1.2.3/8", "2001:db8::1/32")),
    ("postfix-only", fields("!192.0.2.0/24 /etc/postfix/network_table",
                            "hash:/etc/postfix/mynetworks", "cidr:/x")),
    ("bad-prefix", fields("192.0.2.0/33 [::]/129 1.2.3.4/0100",
                          "0.0.0.0/0", "::/0", "[::1", "1.2.3.4/")),
    ("hostile", fields("192.0.2.0/24", "192.0.2.1\r\n", "\xff" * 130,
                       "IPv6:192.0.2.1", "[IPv6:::1]")),
])

# ---- fuzz_domainset: list, then domains ----------------------------------
write("fuzz_domainset", [
    ("mydestination", fields("example.org, .example.org localhost",
                             "example.org", "MAIL.Example.Org.",
                             "other.test", ".example.org")),
    ("relay", fields("backup.example.net", "backup.example.net",
                     "x.backup.example.net", "example.net")),
    ("refused", fields("*.example.org", "hash:/etc/postfix/relay_domains",
                       "$mydestination", "/etc/postfix/domains",
                       "b\xfccher.example")),
    ("labels", fields("a-b.test", LONG_LABEL + ".test", "-a.test",
                      "a..b", "a.b..", "..", LONG_DOMAIN)),
    ("hostile", fields("example.org", "example.org\r\n", "\xff" * 300,
                       "example.org\x1b[2J")),
])

# ---- fuzz_config: config files -------------------------------------------
cfg = []
data_dir = os.path.join(TOP, "tests", "data", "config")
for case in sorted(os.listdir(data_dir)):
    p = os.path.join(data_dir, case, "input")
    if os.path.isfile(p):
        with open(p, "rb") as fp:
            data = fp.read()
        if b"file:" in data and b"file:/" in data:
            continue  # the target skips absolute list files
        cfg.append((case, data))
cfg += [
    ("list-files", b"LocalDomains file:domains\nRelayDomains file:domains\n"
     b"TrustedNetworks file:nets, 127.0.0.1\n"),
    ("mixed", b"# relaydiag.conf\nMode annotate\nHeaderName X-Relay\n"
     b"SubmissionPorts 587, 465 2587\nLocalDomains example.org\n"
     b"LocalDomains .example.org\nTLSAuthOnly no\n"),
    ("hostile", b"Mode\tenforce\x00\nHostName mx\xff.test\r\n"
     b"HeaderName X-%s%n\n"),
    ("diagnosis", b"Mode enforce\nRelayGate yes\nReplyRules rules\n"
     b"TemplateFile templates\n"
     b"Action relay.no-auth=reject, sender.login-mismatch=header\n"
     b"Action relay.probe=tempfail alert.relay-probe=none\n"),
    ("history-dns", b"HistoryWindow 86400\nProbeWindow 600\n"
     b"ProbeDomains 3\nAlertProbeAttempts 20\nOutageWindow 900\n"
     b"OutageSenders 5\nHistoryCacheSize 10000\nHistoryTimeout 50\n"
     b"MXCheck yes\nMXHosts mx.example.org, mx2.example.org\n"
     b"DNSTimeout 500\nDNSConfig /etc/unbound/unbound.conf\n"),
    ("events", b"RedisURL redis://user:pw@[::1]:6379/2\nRedisMaxLen 100000\n"
     b"RedisTimeout 1000\nEventQueueSize 65536\nSpoolMaxSize 256M\n"
     b"SpoolDropPolicy newest\nHashPersonalData yes\n"
     b"HashKeyFile /etc/relaydiag/hash.key\n"),
    ("bad-values", b"SpoolMaxSize 2000000G\nAction alert.auth-outage=reject\n"
     b"ProbeDomains 0\nAction x=\n"),
]
write("fuzz_config", cfg)

# ---- fuzz_mta_text: mailer, host, addr, then facts -----------------------
def facts(flags=0, flags2=0, client="192.0.2.5", name="unknown",
          helo="UserPC", port=25, user=NULL, sender="alice@example.org",
          sdomain="example.org", rcpt="bob@gmail.test",
          rdomain="gmail.test", rclass=2, source=2, by=0, mx=-1,
          refused=0, probe=3, our="mx.example.org", elsewhere=NULL,
          mxhost=NULL):
    """fz_facts: flags, flags2 (| mx), class, port, history counts, strings"""
    return fields(flags, flags2 | ((mx + 1) << 2),
                  rclass | (source << 2) | (by << 4), ("u16", port),
                  refused, probe, client, name, helo, user, sender, sdomain,
                  rcpt, rdomain, our, elsewhere, mxhost)


def tail(tempfail=0, eid=NULL):
    return fields(tempfail, eid)


RELAY = fields("error", "5.7.1", "Relay access denied")
mta = [
    ("relay-denied", RELAY + facts() + tail()),
    ("client-rejected", fields("error", "5.7.1",
                               "Client host rejected: Access denied")
     + facts(client="127.0.0.22") + tail()),
    ("access-denied", fields("error", "5.7.1",
                             "Recipient address rejected: Access denied")
     + facts(rclass=0, source=0, by=3) + tail()),
    ("user-unknown", fields(
        "error", "5.1.1",
        "Recipient address rejected: User unknown in virtual mailbox table")
     + facts(rcpt="nobody@example.org", rdomain="example.org", rclass=0,
             source=0, by=3) + tail()),
    ("domain-not-accepted", RELAY
     + facts(rcpt="a@example.org", rdomain="example.org", rclass=0,
             source=0, by=3) + tail()),
    ("mx-here", RELAY + facts(mx=0, mxhost="mx.example.org") + tail()),
    ("split-no-addr", fields("error", "5.7.1", "Relay", "access denied")
     + facts(port=587, flags=1) + tail()),
    ("code-first", fields("error", "554",
                          "5.7.1 <bob@gmail.test>: Relay access denied")
     + facts() + tail()),
    ("sendmail", fields("error", "5.7.1",
                        "<bob@gmail.test>... Relaying denied")
     + facts() + tail()),
    ("exim-regex", fields("error", "5.7.1",
                          "relaying is not permitted") + facts() + tail()),
    ("rbl", fields("error", "4.7.1",
                   "Service unavailable; Client host [192.0.2.5] blocked "
                   "using zen.spamhaus.org") + facts() + tail(1)),
    ("sender-verify", fields(
        "error", "4.1.1",
        "Sender address rejected: undeliverable address: host "
        "mx.example.net[198.51.100.1] said: 550 5.1.1 User unknown")
     + facts() + tail(1)),
    ("tls-auth-only", RELAY
     + facts(flags=4, port=587, helo="mail.example.org") + tail()),
    ("probe", RELAY + facts(flags=0x20, refused=5, helo="[10.0.0.1]")
     + tail()),
    ("probe-our-name", RELAY + facts(flags=0x20, helo="mx.example.org")
     + tail()),
    ("ip-changed", RELAY + facts(flags=0x60, elsewhere="198.51.100.7",
                                 flags2=1) + tail()),
    ("auth-stopped", RELAY + facts(flags=0xa0, flags2=1) + tail()),
    ("accepted-virtual", fields("virtual", "mail.example.org",
                                "bob@example.org")
     + facts(rclass=0, by=3, mx=1, mxhost="mx.elsewhere.test") + tail()),
    ("accepted-smtp", fields("smtp", "[mx.gmail.test]:25", "bob@gmail.test")
     + facts(user="alice", by=1, flags=3) + tail()),
    ("nulls", fields("error", NULL, NULL) + facts(helo=NULL, our=NULL)
     + tail(1)),
    ("hostile", fields("ERROR", "5.7.1",
                       "Relay access denied\r\n250 OK %s%n\xff\xfe")
     + facts(helo="User\r\nPC", rcpt="<b%ob@x>",
             elsewhere="${client}${mx}", flags=0x60)
     + tail(0, "\r\n%s")),
    ("long", fields("error", "5.7.1", "relay access denied " + "x" * 1100)
     + facts(sender="s" * 300, helo="[" + "1" * 100 + "]", flags=0x20)
     + tail()),
]
write("fuzz_mta_text", mta)

# ---- fuzz_rules: an admin's rules, then reply texts ----------------------
with open(os.path.join(TOP, "conf", "reply-rules"), "rb") as fp:
    shipped = fp.read()
TEXTS = ["Relay access denied", "Client host rejected: Access denied",
         "Recipient address rejected: User unknown in virtual mailbox table",
         "Service unavailable; Client host [192.0.2.5] blocked using "
         "zen.spamhaus.org", "relaying is not permitted",
         "Sender address rejected: undeliverable address: host "
         "mx[1.2.3.4] said: 550 5.1.1 User unknown",
         "Rejected: see https://example.test/why"]
write("fuzz_rules", [
    ("shipped", fields(shipped, *TEXTS)),
    ("empty", fields("", *TEXTS)),
    ("local", fields("relay  relay access denied  # ours\n"
                     "mta.rbl-listed /(listed|blacklisted) (at|in) /\n"
                     "rcpt.unknown-user\tno such mailbox\r\n",
                     "listed at zen", "No Such Mailbox here")),
    ("errors", fields("nonsense.id some text\n", "x")),
    ("bad-regex", fields("relay /(unclosed/\n", "x")),
    ("no-pattern", fields("# comment\n\nrelay\n", "x")),
    ("long-line", fields("relay " + "x" * 1100 + "\n", "x")),
    ("hostile", fields("relay /^$/\nrelay //\nrelay /\n", "",
                       "\xff" * 1100, "\r\n%s", "RELAY\tACCESS")),
])

# ---- fuzz_reply: flags, more, text, facts, [summary, remedy], eid, header --
def reply(flags, more, text, client, helo, port, user, rcpt, eid, host,
          session, authorized, tls, ids, summary=None, remedy=None):
    out = fields(flags, more, text) + facts(
        flags=flags & 0x1f, client=client, helo=helo, port=port, user=user,
        rcpt=rcpt, rclass=(more >> 2) % 3, source=(more >> 4) % 3,
        by=(more >> 6) % 4,
        rdomain=rcpt.split("@")[-1] if isinstance(rcpt, str) else "x")
    if flags & 0x40:
        out += fields(summary, remedy)
    return out + fields(eid, host, session, authorized, tls, *ids)


write("fuzz_reply", [
    ("no-auth", reply(0, 0x02 << 2, "", "192.0.2.5", "mail.example.org",
                      587, NULL, "bob@gmail.test", "01J3Z5Q8K2MX.1",
                      "mx.example.org", "01J3Z5Q8K2MX", "none", NULL,
                      ["relay.no-auth"])),
    ("port-25", reply(0, 0x02 << 2, "", "192.0.2.5", "UserPC", 25, NULL,
                      "bob@gmail.test", "01J3Z5Q8K2MX.2", "mx.example.org",
                      "01J3Z5Q8K2MX", "none", NULL,
                      ["relay.client-on-port-25", "delivery.local"])),
    ("sasl", reply(0x03, (0x02 << 2) | (1 << 6), "", "203.0.113.9",
                   "laptop.example.org", 587, "alice@example.org",
                   "carol@remote.test", "01J3Z5Q8K2MX.3", "mx.example.org",
                   "01J3Z5Q8K2MX", "sasl", "TLSv1.3",
                   ["relay.authorized-sasl"])),
    ("mta-reject", reply(0x20, 1, "Relay access denied", "192.0.2.5",
                         "UserPC", 25, NULL, "bob@gmail.test", "x.9",
                         "mx.example.org", "01J3Z5Q8K2MX", "none", NULL, [])),
    ("raw-text", reply(0x40, 0, "", "192.0.2.5", "x", 25, NULL,
                       "bob@gmail.test", "e.1", "mx", "s", "none", NULL,
                       ["mta.other"],
                       summary="100%% sure: %s\r\nX-Injected: yes " * 8,
                       remedy="Fix\x00it " + "\xff" * 200)),
    ("hostile", reply(0x80, 40, "%n\r\n", "192.0.2.5\r\n",
                      "\xff" * 255, 65535, "a;b c\tauth=sasl",
                      "<%s@x>\r\nX: y", "\r\n", "mx.example.org; auth=sasl",
                      "s\nX-Injected: 1", "sasl\r\n", "TLSv1.3\r\n",
                      ["relay.no-auth\r\nX: y", "a" * 100])),
    ("long-host", reply(0, 0, "", "192.0.2.5", "h", 25, NULL, "b@x.test",
                        "e.1", "h" * 253, "s", "none", NULL,
                        ["relay.no-auth"] * 30)),
])

# ---- fuzz_event -------------------------------------------------------------
def event(flags, more, host, qid, ip, cport, name, helo, daemon, sport,
          tlsv, cipher, bits, mech, user, sender, sdomain, mailer, mhost,
          maddr, rcpt, rdomain, pick=b"\0" * 8, acc=1, rej=0, msgs=1,
          dur=3):
    return (fields(flags, more, host, qid, ip, ("u16", cport), name, helo,
                   daemon, ("u16", sport), tlsv, cipher, bits, mech, user,
                   sender, sdomain, mailer, mhost, maddr, rcpt, rdomain)
            + pick + fields(acc, rej, msgs, ("u16", dur)))


write("fuzz_event", [
    ("relay-denied", event(0, 0x02 << 2, "mx.example.org", "4XyZ1abc",
                           "192.0.2.5", 51234, "unknown", "UserPC", "smtpd",
                           25, NULL, NULL, NULL, NULL, NULL,
                           "alice@example.org", "example.org", "error",
                           "5.7.1", "Relay access denied", "bob@gmail.test",
                           "gmail.test", b"\0\0\0\0\0\0\0\x08")),
    ("submission", event(0x03, (1 << 6) | 1, "mx.example.org", "4XyZ1abd",
                         "203.0.113.9", 40000, "dsl.example.net",
                         "laptop", "ORIGINATING", 587, "TLSv1.3",
                         "TLS_AES_256_GCM_SHA384", "256", "PLAIN",
                         "alice@example.org", "alice@example.org",
                         "example.org", "smtp", "[mx.remote.test]:25",
                         "carol@remote.test", "carol@remote.test",
                         "remote.test", b"\0\0\0\0\0\0\0\x01")),
    ("empty-strings", event(0, 0, "", "", "", 0, "", "", "", 0, "", "", "",
                            "", "", "", "", "", "", "", "", "")),
    ("nulls", event(0x80, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0,
                    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, "", NULL)),
    ("hostile", event(0, 0xff, "mx\r\n", "Q\"\\", b"\xff\xfe", 65535,
                      "\u202e\u0000evil", "\x00\x1b[2J", b"\xc0\xaf",
                      1, b"TLS\xed\xa0\x80", b"\xf4\x90\x80\x80", "99999",
                      "PLAIN\n", b"\xe2\x82", "\"},\"x\":{", "</script>",
                      "error", "5.7.1", "Relay\r\n\xff access denied",
                      "\\u0000@x", "x\ty", b"\xff" * 8)),
    ("bits", event(0, 0, "mx", "Q", "192.0.2.1", 1, "n", "h", "d", 25,
                   "TLSv1.2", "c", "100000", "LOGIN", "u", "s@x", "x",
                   "local", "h", "a", "r@x", "x")),
])

# ---- fuzz_session: a configuration byte, then operations ------------------
def connect(ip="192.0.2.5", cport=51234, name="unknown", ptr="unknown",
            daemon="smtpd", daddr="127.0.0.1", dport=2525,
            j="mx.example.org"):
    return fields(0, ip, ("u16", cport), name, ptr, daemon, daddr,
                  ("u16", dport), j)


def helo(h, tls=None):
    if tls is None:
        return fields(1, h, 0)
    return fields(1, h, 1, *tls)


def mail(sender, qid=NULL, atype=NULL, user=NULL, tls=(NULL,) * 4):
    return fields(2, sender, qid, atype, user, *tls)


def rcpt(r, mailer, host, addr, qid=NULL):
    return fields(3, r, mailer, host, addr, qid)


def header(name, value):
    return fields(4, name, value)


def eom(qid="4XyZ1abc"):
    return fields(5, qid)


ABORT = fields(6)
NEXT = fields(8)        # close this session, open the next one


def cfg(mode=0, tls_auth_only=0, gate=0, hashing=0, hostname=0, actions=0):
    """fuzz_session's configuration byte (make_config)"""
    return fields(mode + 3 * tls_auth_only + 6 * gate + 12 * hashing
                  + 36 * hostname + 72 * actions)


def relay_attempt(client, domain, helo_name="UserPC", sender="<a@x.test>"):
    return (connect(ip=client) + helo(helo_name) + mail(sender)
            + rcpt("<u@%s>" % domain, "error", "5.7.1",
                   "Relay access denied") + ABORT + NEXT)

TLS13 = ("TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", NULL)

write("fuzz_session", [
    ("gate-open-relay", cfg(mode=0, gate=1) + connect(dport=25)
     + helo("mail.spam.test") + mail("<spam@example.net>")
     + rcpt("<victim@remote.test>", "smtp", "[mx.remote.test]:25",
            "victim@remote.test")
     + rcpt("<b@example.org>", "virtual", "h", "b@example.org") + eom()),
    ("gate-actions", cfg(mode=1, gate=1, actions=1) + connect()
     + helo("UserPC") + mail("<a@x.test>")
     + rcpt("<v@remote.test>", "smtp", "x", "v@remote.test") + eom()),
    ("hashed", cfg(mode=1, hashing=2) + connect(dport=587)
     + helo("laptop", TLS13)
     + mail("<alice@example.org>", "Q1", "PLAIN", "alice@example.org",
            TLS13)
     + rcpt("<bob@remote.test>", "error", "5.7.1",
            "<BOB@remote.test>: Recipient address rejected: bob@remote.test"
            " unknown, ask alice@example.org")
     + rcpt("<carol@remote.test>", "smtp", "x", "carol@remote.test")
     + eom()),
    ("hashed-nokey", cfg(mode=2, hashing=1) + connect() + helo("h")
     + mail("<>") + rcpt("<postmaster@example.org>", "local", "h", "p")
     + eom()),
    ("probe", cfg(mode=1)
     + relay_attempt("198.51.100.9", "a.test", "[10.0.0.1]")
     + relay_attempt("198.51.100.9", "b.test")
     + relay_attempt("198.51.100.9", "c.test")
     + relay_attempt("198.51.100.9", "d.test")),
    ("auth-stopped", cfg(mode=2) + connect(ip="203.0.113.9", dport=587)
     + helo("laptop") + mail("<alice@example.org>", NULL, "PLAIN", "alice")
     + rcpt("<c@remote.test>", "smtp", "x", "c@remote.test") + eom()
     + NEXT + relay_attempt("203.0.113.9", "remote.test",
                            sender="<alice@example.org>")
     + relay_attempt("198.51.100.1", "remote.test",
                     sender="<alice@example.org>")),
    ("outage", cfg(mode=1)
     + connect(ip="203.0.113.1", dport=587) + helo("a")
     + mail("<u1@example.org>", NULL, "PLAIN", "u1")
     + rcpt("<x@r.test>", "smtp", "x", "x") + eom() + NEXT
     + connect(ip="203.0.113.2", dport=587) + helo("b")
     + mail("<u2@example.org>", NULL, "PLAIN", "u2")
     + rcpt("<x@r.test>", "smtp", "x", "x") + eom() + NEXT
     + relay_attempt("203.0.113.1", "r.test", sender="<u1@example.org>")
     + relay_attempt("203.0.113.2", "r.test", sender="<u2@example.org>")),
    ("relay-denied", fields(1) + connect() + helo("UserPC")
     + mail("<alice@example.org>")
     + rcpt("<bob@gmail.test>", "error", "5.7.1", "Relay access denied")
     + ABORT),
    ("submission-sasl", fields(2) + connect(ip="203.0.113.9", dport=587,
                                            daemon="ORIGINATING")
     + helo("laptop.example.org", TLS13)
     + mail("<alice@example.org>", "4XyZ1abc", "PLAIN", "alice", TLS13)
     + rcpt("<carol@remote.test>", "smtp", "[mx.remote.test]:25",
            "carol@remote.test")
     + rcpt("<bob@example.org>", "virtual", "mx.example.org",
            "bob@example.org")
     + header("Subject", "hi") + eom()),
    ("enforce-open-relay", fields(2) + connect(dport=25) + helo("UserPC")
     + mail("<spam@example.net>")
     + rcpt("<victim@remote.test>", "smtp", "[mx.remote.test]:25",
            "victim@remote.test") + eom()),
    ("trusted", fields(7) + connect(ip="192.0.2.77", j="")
     + helo("[192.0.2.77]") + mail("<>")
     + rcpt("<u@[IPv6:2001:db8::1]>", "smtp", "x", "y")
     + rcpt("postmaster", "local", "mx", "postmaster") + eom()),
    ("forged-header", fields(1) + connect() + helo("mail.example.net")
     + mail("<a@example.net>") + rcpt("<b@example.org>", "virtual", "h", "a")
     + header("X-Relay-Diagnostic", "mx.example.org; auth=sasl")
     + header("x-relay-diagnostic", "forged") + eom()
     + mail("<a@example.net>") + header("X-Relay-Diagnostic", "again")
     + eom()),
    ("user-unknown", fields(0) + connect() + helo("mail.example.net")
     + mail("<a@example.net>")
     + rcpt("<nobody@example.org>", "error", "5.1.1",
            "Recipient address rejected: User unknown in virtual "
            "mailbox table") + ABORT),
    ("out-of-order", fields(5) + rcpt("<b@x.test>", NULL, NULL, NULL)
     + eom(NULL) + helo(NULL) + ABORT + connect(ip=NULL, name=NULL)
     + mail(NULL)),
    ("hostile", fields(2) + connect(ip="192.0.2.5\r\n", name="\xff" * 300,
                                    j="mx\r\nX: y")
     + helo("User\r\nPC\x00", ("TLS\xff", "%n", "-1", "\r\n"))
     + mail("<a@b>\r\nX-Injected: 1", "Q\r\n", "PLAIN\r\n",
            "alice\r\n\xc0\xaf" + "u" * 300)
     + rcpt("<%s%n@x>\r\n", "error", "554", "5.7.1 <x>: Relay access "
            "denied\r\n250 2.0.0 Ok %s")
     + rcpt("<" + "a" * 300 + "@x.test>", "smtp", "h", "a")
     + header("X-Relay-Diagnostic\r\n", "x") + eom("\xff" * 100)),
])
# ---- fuzz_pseudo: flags, key file, sender, rcpt, user, text ---------------
HEXKEY = "00112233445566778899aabbccddeeff\n"
write("fuzz_pseudo", [
    ("postfix", fields(0xff, HEXKEY, "alice@example.org", "bob@remote.test",
                       "alice", "<bob@remote.test>: Recipient address "
                       "rejected: User unknown in virtual mailbox table")),
    ("case", fields(0xff, HEXKEY, "alice@example.org", "Bob@Remote.Test",
                    NULL, "<BOB@REMOTE.TEST>... User unknown; "
                    "from=ALICE@example.org.")),
    ("user-inside", fields(0xff, HEXKEY, "alice@example.org", NULL, "alice",
                           "alice@example.org (alice) said hi")),
    ("nokey", fields(0xfe, "", "a@x.test", "b@x.test", "u",
                     "a@x.test b@x.test u xa@x.test a@x.testy")),
    ("raw-key", fields(0x41, "\x01\x02\x03\x04\x05\x06\x07\x08"
                       "\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
                       "s@x", "r@x", NULL, "r@x")),
    ("short-key", fields(0x21, "abc", "s@x", "r@x", NULL, "s@x r@x")),
    ("cut", fields(0x09, HEXKEY, "bob@x.test", "bob@x.testing", NULL,
                   "bob@x.testing and bob@x.test")),
    ("hostile", fields(0xff, " " + HEXKEY + " ", "\xff@x", "%s@x",
                       "\r\n", "\xff@x %s@x \r\n" * 40)),
])
# ---- fuzz_policy: config byte, chunk byte, a policy request stream -------
def policy_req(**kv):
    base = dict(request="smtpd_access_policy", protocol_state="RCPT",
                protocol_name="ESMTP", client_address="127.0.0.5",
                client_name="unknown", client_port="58797",
                server_address="127.0.0.1", server_port="2525",
                helo_name="UserPC", sender="anna@client.test",
                recipient="bob@gmail.test", queue_id="", instance="1.2.3.0",
                sasl_method="", sasl_username="", encryption_protocol="",
                encryption_cipher="", encryption_keysize="0")
    base.update(kv)
    return b"".join(b(k) + b"=" + b(v) + b"\n" for k, v in base.items()) + b"\n"


write("fuzz_policy", [
    ("desktop", bytes([1, 96]) + policy_req()),
    ("two-requests", bytes([1, 7]) + policy_req() +
     policy_req(recipient="carol@remote.test", helo_name="mail.partner.test")),
    ("logged-in", bytes([1, 50]) + policy_req(sasl_method="PLAIN",
                                               sasl_username="alice@example.test")),
    ("local", bytes([1, 50]) + policy_req(recipient="alice@example.test")),
    ("gate-listener", bytes([3, 13]) + policy_req(server_port="2525")),
    ("hostile-helo", bytes([1, 3]) + policy_req(helo_name="x\r554 ok %s\x01\x7f\xff")),
    ("nul", bytes([1, 96]) + policy_req(recipient="bob@gmail.test\x00x")),
    ("crlf", bytes([1, 96]) + policy_req().replace(b"\n", b"\r\n")),
    ("long-line", bytes([1, 96]) + b"helo_name=" + b"H" * 5000 + b"\n" + policy_req()),
    ("many-attrs", bytes([1, 96]) + b"".join(b"x%d=y\n" % i for i in range(1100)) + policy_req()),
    ("half", bytes([1, 96]) + policy_req()[:40]),
    ("not-rcpt", bytes([0, 96]) + policy_req(protocol_state="DATA")),
    ("long-rcpt", bytes([1, 96]) + policy_req(recipient="l" * 64 + "@" + "d" * 63 + ".test")),
])

# ---- fuzz_logline: byte 0 formats + LogRejects, then one log line --------
LOGLINES = [
    "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<x@remote.test>, relay=127.0.0.1[127.0.0.1]:2725, delay=0.05, delays=0.01/0/0.02/0.01, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <x@remote.test>: Relay access denied (in reply to RCPT TO command))",
    "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: unknown[127.0.0.82]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=frank@example.test",
    "Jul 18 08:25:19 company postfix/smtpd[29282]: NOQUEUE: reject: RCPT from company.university.edu[111.111.11.11]: 554 5.7.1 <email@gmail.com>: Relay access denied; from=<user_name@domain.com> to=<email@gmail.com> proto=ESMTP helo=<UserPC>",
    "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: ruleset=check_rcpt, arg1=<bob@gmail.test>, relay=[127.0.0.5], reject=550 5.7.1 <bob@gmail.test>... Relaying denied",
    "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, relay=[127.0.0.9]",
    "2016-10-10 14:05:23 1btaGg-0004ei-Mf ** email@address.com  R=dkim_lookuphost T=dkim_remote_smtp H=someserver.com [192.168.0.1] X=TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes: SMTP error from remote mail server after RCPT TO:<email@address.com>: 554 5.7.1 <email@addrss.com>: Recipient address rejected: Access denied",
    "2026-12-07 03:14:47 H=(UserPC) [203.0.113.5]:51234 I=[192.0.2.1]:25 F=<anna@client.test> rejected RCPT <bob@gmail.test>: relay not permitted",
    "2016-10-10 14:05:23 H=(myserver.com) [xx.xx.xx.xx] sender verify fail for <myuser@mydomain.com>: response to \"RCPT TO:<myuser@mydomain.com>\" from senderserver.com [yy.yy.yy.yy] was: 554 <myuser@mydomain.com>: Relay access denied",
    "2026-12-07 03:14:47 dovecot_plain authenticator failed for (UserPC) [203.0.113.5]:51234: 535 Incorrect authentication data (set_id=anna@example.test)",
    "2026-12-07T03:14:47.123456+01:00 mx postfix/smtpd[2311]: warning: host.example[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
]
write("fuzz_logline", [("line%d" % i, bytes([15]) + b(l)) for i, l in enumerate(LOGLINES)] +
      [("hostile", bytes([15]) + b("Dec  7 03:14:47 mx sm-mta[1]: q: ruleset=check_rcpt, arg1=<x\x1b[31m%s\x01@gmail.test>, relay=evil\x07 [127.0.0.50], reject=550 5.7.1 <x>... Relaying denied \xff")),
       ("long", bytes([7]) + b("Dec  7 03:14:47 mx postfix/smtpd[1]: warning: x[1.2.3.4]: SASL PLAIN authentication failed: x, sasl_username=" + "U" * 9000))])

# ---- regressions: inputs that found bugs (issue 5) ------------------------
REGRESS = [
    # reply.c: the host (the MTA's {j}, or HostName) was never cut, so an
    # escaped 8-bit host made the header's first line 114 columns and more
    # (up to 1,000+: past RFC 5322's 998 octets).
    ("fuzz_reply", "header-host-not-cut",
     reply(0x41, 0, "", "", "", 0, NULL, "b@x.test", "e.1",
           "\x17" * 13 + "\xff" * 12 + "]", "s", "none", NULL,
           ["relay.no-auth"], summary="", remedy="")),
    # config.c accepted a unix:// RedisURL whose socket path the publisher
    # and the history (redis.c) refuse: "relaydiag -n" said OK.
    ("fuzz_config", "redisurl-unix-path-too-long",
     b"RedisURL unix:////run/redis/redis-serv" + b"`" * 80
     + b"er./run/redis/redhash:is-server.sock?db=2\n"),
    ("fuzz_config", "redisurl-scheme-case",
     b"RedisURL REDIS://relaydiag:s3cret99@localhost\n"),
    # config.c repeated a RedisURL's password in its error (errors are
    # logged): white space in the URL, "RedisURL = url", "RedisURL=url".
    ("fuzz_config", "redisurl-password-expected-one-value",
     b"RedisURL redis://relaydiag:s3cr%4!t@[200TLSAuthOnly 80/3\n"),
    ("fuzz_config", "redisurl-password-equals",
     b"RedisURL = redis://relaydiag:hunter2pw@localhost\n"),
    ("fuzz_config", "redisurl-password-unknown-key",
     b"RedisURL=redis://relaydiag:hunter2pw@localhost\n"),
]
for target, name, data in REGRESS:
    with open(os.path.join(CORPUS, target, "regress-" + name), "wb") as fp:
        fp.write(data)
print("corpus written under", CORPUS)

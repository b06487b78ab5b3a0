#!/usr/bin/python3
"""policyclient.py - the client side of bench/policy.sh: time what the
policy service adds, as a client and as Postfix see it.

usage:
  policyclient.py smtp PORT_A PORT_B ROUNDS N CONC
      N SMTP sessions per port and round, CONC at a time, alternating A and
      B (A first in odd rounds, B first in even ones); each session: EHLO,
      MAIL, one RCPT to an external domain from an unauthorized client,
      QUIT. Prints, per port, the median over rounds of the RCPT round
      trip p50/p99 (ms) and of sessions/s.
  policyclient.py policy SOCKET N
      N policy requests on one connection (an unauthorized relay: the
      whole engine, REJECT), then N for a logged-in client (DUNNO); p50/p99
      per request (ms).
Every reply is checked: a wrong one counts as an error; exit 1 if any.
"""
import socket
import statistics
import sys
import threading
import time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def smtp_session(port, i, lat, errors, want):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if not line:
                    raise EOFError
                if line[3:4] != b"-":
                    return line
        reply()
        s.sendall(b"EHLO bench.client.test\r\n")
        reply()
        s.sendall(b"MAIL FROM:<bench%d@client.test>\r\n" % i)
        reply()
        t0 = time.perf_counter()
        s.sendall(b"RCPT TO:<r%d@remote.test>\r\n" % i)
        r = reply()
        lat.append((time.perf_counter() - t0) * 1000)
        if not r.startswith(want):
            errors.append(r)
        s.sendall(b"QUIT\r\n")
        reply()
        s.close()
    except Exception as e:  # counted, never silent
        errors.append(repr(e))


def smtp_round(port, n, conc, want):
    lat, errors, nxt = [], [], [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            smtp_session(port, i, lat, errors, want)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    return pct(lat, 50), pct(lat, 99), n / dt, errors


def cmd_smtp(a, b, rounds, n, conc):
    res = {a: [], b: []}
    errs = 0
    for r in range(rounds):
        order = (a, b) if r % 2 == 0 else (b, a)
        for port in order:
            p50, p99, rate, errors = smtp_round(port, n, conc, b"554 5.7.1")
            res[port].append((p50, p99, rate))
            errs += len(errors)
            for e in errors[:3]:
                print("error: port %d: %r" % (port, e), file=sys.stderr)
    for port in (a, b):
        med = [statistics.median(x[k] for x in res[port]) for k in range(3)]
        print("port %d: rcpt p50 %.2f ms, p99 %.2f ms, %.0f sessions/s "
              "(median of %d rounds of %d, concurrency %d)"
              % (port, med[0], med[1], med[2], rounds, n, conc))
    return errs


def cmd_policy(path, n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rb")
    errs = 0
    for kind, user, want in (("reject", "", b"action=REJECT 5.7.1 "),
                             ("dunno", "alice@example.test", b"action=DUNNO")):
        lat = []
        for i in range(n):
            req = ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
                   "client_address=127.0.1.%d\nclient_port=%d\n"
                   "helo_name=UserPC\nsender=b%d@client.test\n"
                   "recipient=r%d@remote.test\nsasl_username=%s\n"
                   "server_address=127.0.0.1\nserver_port=25\n\n"
                   % (2 + i % 200, 1024 + i, i, i, user)).encode()
            t0 = time.perf_counter()
            s.sendall(req)
            line = f.readline()
            f.readline()
            lat.append((time.perf_counter() - t0) * 1000)
            if not line.startswith(want):
                errs += 1
        print("policy %s: p50 %.3f ms, p99 %.3f ms (%d requests, one "
              "connection)" % (kind, pct(lat, 50), pct(lat, 99), n))
    return errs


def main():
    if sys.argv[1] == "smtp":
        errs = cmd_smtp(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                        int(sys.argv[5]), int(sys.argv[6]))
    else:
        errs = cmd_policy(sys.argv[2], int(sys.argv[3]))
    print("errors: %d" % errs)
    sys.exit(1 if errs else 0)


main()

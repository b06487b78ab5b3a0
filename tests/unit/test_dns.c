/*
 * test_dns.c - the MX check against libunbound, offline: the test writes
 * its own unbound.conf (local-zone / local-data) into a temporary
 * directory. Everything else is forwarded to loopback UDP ports the test
 * owns: one that never answers (the deadline), one that answers late (the
 * late answer lands in the cache). Nothing reaches the network.
 *
 * Cases: here / elsewhere / none (NXDOMAIN, NODATA) / null MX / unknown
 * (REFUSED, timeout) / case and trailing dot / near misses / concurrent
 * lookups from 4 threads, with and without deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relaydiag/dns.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "testutil.h"

/* A lookup that must wait for its deadline may overrun it by this much. */
#define SLACK_MS 400
#define LATE_DELAY_MS                                                          \
	250 /* the late server; under unbound's first RTO (376)                \
	     */

struct fixture {
	char dir[64];   /* tu_tmpdir */
	char conf[128]; /* dir/unbound.conf */
	int dead_fd;    /* bound, never read: never answers */
	int late_fd;    /* answers after LATE_DELAY_MS */
	unsigned short dead_port, late_port;
	pthread_t late_thread;
	atomic_bool stop;
	atomic_int late_queries;
	struct rd_domainset *ours;
};

static struct fixture fx;

/* udp_loopback - a UDP socket on 127.0.0.1, its port in *port */
static int
udp_loopback(unsigned short *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/*
 * late_reply - the answer to query q[0..n): "MX 10 mx.relaydiag.test."
 * for an MX question, an empty NOERROR otherwise (RFC 1035 4.1). Returns
 * its length, or 0 for a packet that is not a query.
 */
static size_t
late_reply(const unsigned char *q, size_t n, unsigned char *r, size_t rlen)
{
	static const unsigned char mx[] = "\2mx\11relaydiag\4test";
	size_t i = 12, qend;
	unsigned qtype;

	if (n < 12 || (q[2] & 0x80) != 0 || q[4] != 0 || q[5] != 1)
		return (0);
	while (i < n && q[i] != 0 && q[i] < 64)
		i += (size_t)q[i] + 1;
	if (i >= n || q[i] != 0 || i + 5 > n)
		return (0);
	qend = i + 5; /* the root label, QTYPE, QCLASS */
	qtype = (unsigned)q[i + 1] << 8 | q[i + 2];
	if (qend + 12 + 2 + sizeof(mx) > rlen)
		return (0);
	memcpy(r, q, qend);
	r[2] = 0x80 | (q[2] & 0x79) | 0x04; /* QR, opcode and RD kept, AA */
	r[3] = 0x80;                        /* RA, NOERROR */
	memset(r + 6, 0, 6);                /* AN/NS/AR counts */
	if (qtype != 15)
		return (qend);
	r[7] = 1;
	i = qend;
	r[i++] = 0xc0; /* a pointer to the question's name */
	r[i++] = 12;
	r[i++] = 0, r[i++] = 15;                           /* MX */
	r[i++] = 0, r[i++] = 1;                            /* IN */
	r[i++] = 0, r[i++] = 0, r[i++] = 1, r[i++] = 0x2c; /* TTL 300 */
	r[i++] = 0, r[i++] = (unsigned char)(2 + sizeof(mx));
	r[i++] = 0, r[i++] = 10;
	memcpy(r + i, mx, sizeof(mx)); /* with its root label */
	return (i + sizeof(mx));
}

/* late_main - a name server that answers every query LATE_DELAY_MS late */
static void *
late_main(void *arg)
{
	unsigned char q[1500], r[1500];
	struct sockaddr_storage from;
	struct pollfd pfd;
	socklen_t flen;
	ssize_t n;
	size_t rn;

	(void)arg;
	pfd.fd = fx.late_fd;
	pfd.events = POLLIN;
	while (!atomic_load(&fx.stop)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		flen = sizeof(from);
		n = recvfrom(fx.late_fd, q, sizeof(q), 0,
		    (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		atomic_fetch_add(&fx.late_queries, 1);
		if ((rn = late_reply(q, (size_t)n, r, sizeof(r))) == 0)
			continue;
		usleep(LATE_DELAY_MS * 1000);
		(void)sendto(
		    fx.late_fd, r, rn, 0, (struct sockaddr *)&from, flen);
	}
	return (NULL);
}

/* write_file - dir/name with text; its path into out */
static void
write_file(const char *name, const char *text, char *out, size_t outlen)
{
	tu_write_file(tu_path(out, outlen, fx.dir, name), text);
}

/*
 * The zone the tests resolve. "relaydiag.test." is static: a name with no
 * data is NXDOMAIN, a name with other data is NODATA. refused.* answers
 * REFUSED; slow.example goes to the late server, everything else to the
 * dead one, so nothing leaves the machine.
 */
static const char conf_fmt[] =
    "server:\n"
    "\tmodule-config: \"iterator\"\n"
    "\tdo-not-query-localhost: no\n"
    "\tlocal-zone: \"relaydiag.test.\" static\n"
    "\tlocal-data: \"here.relaydiag.test. MX 10 mx.relaydiag.test.\"\n"
    "\tlocal-data: \"backup.relaydiag.test. MX 10 mx1.provider.example.\"\n"
    "\tlocal-data: \"backup.relaydiag.test. MX 20 MX.RelayDiag.Test.\"\n"
    "\tlocal-data: \"elsewhere.relaydiag.test. MX 20 mx2.provider.example.\"\n"
    "\tlocal-data: \"elsewhere.relaydiag.test. MX 5 mx1.provider.example.\"\n"
    "\tlocal-data: \"subname.relaydiag.test. MX 10 x.mx.relaydiag.test.\"\n"
    "\tlocal-data: \"parent.relaydiag.test. MX 10 relaydiag.test.\"\n"
    "\tlocal-data: \"other.relaydiag.test. MX 10 edge.cluster.example.\"\n"
    "\tlocal-data: \"nodata.relaydiag.test. A 192.0.2.1\"\n"
    "\tlocal-data: \"nullmx.relaydiag.test. MX 0 .\"\n"
    "\tlocal-zone: \"refused.relaydiag.test.\" refuse\n"
    "forward-zone:\n"
    "\tname: \"slow.example.\"\n"
    "\tforward-addr: 127.0.0.1@%u\n"
    "forward-zone:\n"
    "\tname: \".\"\n"
    "\tforward-addr: 127.0.0.1@%u\n";

static int
group_setup(void **state)
{
	char text[sizeof(conf_fmt) + 64];
	struct rd_err e;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	tu_tmpdir(fx.dir, sizeof(fx.dir), "rd-test-dns");
	fx.dead_fd = udp_loopback(&fx.dead_port);
	fx.late_fd = udp_loopback(&fx.late_port);
	atomic_init(&fx.stop, false);
	atomic_init(&fx.late_queries, 0);
	assert_int_equal(
	    pthread_create(&fx.late_thread, NULL, late_main, NULL), 0);
	(void)snprintf(
	    text, sizeof(text), conf_fmt, fx.late_port, fx.dead_port);
	write_file("unbound.conf", text, fx.conf, sizeof(fx.conf));

	/* Ours, written as an admin might: any case, a trailing dot. */
	assert_non_null(fx.ours = rd_domainset_new());
	rd_err_clear(&e);
	assert_int_equal(rd_domainset_add_list(fx.ours,
			     "Mx.RelayDiag.Test. edge.cluster.example", &e),
	    0);
	return (0);
}

static int
group_teardown(void **state)
{
	(void)state;
	atomic_store(&fx.stop, true);
	(void)pthread_join(fx.late_thread, NULL);
	(void)close(fx.dead_fd);
	(void)close(fx.late_fd);
	tu_rmtree(fx.dir);
	rd_domainset_free(fx.ours);
	return (0);
}

/* new_resolver - a resolver on the test's unbound.conf */
static struct rd_dns *
new_resolver(unsigned timeout_ms)
{
	struct rd_dns_params p = {fx.conf, timeout_ms, fx.ours};
	struct rd_dns *d;
	struct rd_err e;
	char buf[1024];

	rd_err_clear(&e);
	if ((d = rd_dns_new(&p, &e)) == NULL)
		fail_msg("rd_dns_new: %s", rd_err_format(&e, buf, sizeof(buf)));
	return (d);
}

/* clang-format off */
static const struct mx_case {
	const char		*name, *domain;
	enum rd_mx_answer	 want;
	const char		*want_mx;
} mx_cases[] = {
	{ "here: the only MX is ours", "here.relaydiag.test",
	  RD_MX_HERE, "mx.relaydiag.test" },
	{ "here: ours is the backup MX, in upper case in the zone",
	  "backup.relaydiag.test", RD_MX_HERE, "mx.relaydiag.test" },
	{ "here: a second name of ours", "other.relaydiag.test",
	  RD_MX_HERE, "edge.cluster.example" },
	{ "case: the domain asked in mixed case with a trailing dot",
	  "HERE.RelayDiag.Test.", RD_MX_HERE, "mx.relaydiag.test" },
	{ "elsewhere: the most preferred host is shown",
	  "elsewhere.relaydiag.test", RD_MX_ELSEWHERE,
	  "mx1.provider.example" },
	{ "near miss: the MX is a sub-domain of our name",
	  "subname.relaydiag.test", RD_MX_ELSEWHERE, "x.mx.relaydiag.test" },
	{ "near miss: the MX is the parent of our name",
	  "parent.relaydiag.test", RD_MX_ELSEWHERE, "relaydiag.test" },
	{ "none: NXDOMAIN", "nosuch.relaydiag.test", RD_MX_NONE, "" },
	{ "none: NODATA (an A record, no MX)", "nodata.relaydiag.test",
	  RD_MX_NONE, "" },
	{ "none: null MX (RFC 7505)", "nullmx.relaydiag.test", RD_MX_NONE,
	  "." },
	{ "unknown: the server refuses", "refused.relaydiag.test",
	  RD_MX_UNKNOWN, "" },
	{ "unknown: an address literal is not a domain", "[192.0.2.1]",
	  RD_MX_UNKNOWN, "" },
	{ "unknown: an empty domain", "", RD_MX_UNKNOWN, "" },
	{ "unknown: a label of 64 bytes",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
	  RD_MX_UNKNOWN, "" },
};
/* clang-format on */

#define N_MX_CASES (sizeof(mx_cases) / sizeof(mx_cases[0]))

/* check_case - one lookup against its case; false (and a message) if off */
static bool
check_case(struct rd_dns *d, const struct mx_case *c)
{
	char mx[256];
	enum rd_mx_answer got;

	memset(mx, 'x', sizeof(mx));
	got = rd_dns_mx(d, c->domain, mx, sizeof(mx));
	if (got == c->want && strcmp(mx, c->want_mx) == 0)
		return (true);
	print_error("%s: got %s \"%s\", want %s \"%s\"\n", c->name,
	    rd_mx_answer_name(got), mx, rd_mx_answer_name(c->want), c->want_mx);
	return (false);
}

static void
test_answers_from_local_data(void **state)
{
	struct rd_dns *d = new_resolver(5000);
	int nfail = 0;
	size_t i;

	(void)state;
	for (i = 0; i < N_MX_CASES; i++)
		if (!check_case(d, &mx_cases[i]))
			nfail++;
	/* The same again: answers do not change when they come from cache. */
	for (i = 0; i < N_MX_CASES; i++)
		if (!check_case(d, &mx_cases[i]))
			nfail++;
	rd_dns_free(d);
	TU_FAIL_IF_ANY(nfail, 2 * N_MX_CASES);
}

static void
test_mx_out_is_optional_and_cut_safely(void **state)
{
	struct rd_dns *d = new_resolver(5000);
	char small[6];

	(void)state;
	assert_int_equal(
	    rd_dns_mx(d, "here.relaydiag.test", NULL, 0), RD_MX_HERE);
	assert_int_equal(
	    rd_dns_mx(d, "here.relaydiag.test", small, sizeof(small)),
	    RD_MX_HERE);
	assert_string_equal(small, "mx.re");
	assert_int_equal(
	    rd_dns_mx(NULL, "here.relaydiag.test", small, 6), RD_MX_UNKNOWN);
	assert_string_equal(small, "");
	assert_int_equal(rd_dns_mx(d, NULL, NULL, 0), RD_MX_UNKNOWN);
	rd_dns_free(d);
	rd_dns_free(NULL);
}

static void
test_deadline_is_honoured(void **state)
{
	struct rd_dns *d = new_resolver(200);
	long long t0, took;
	char mx[64];

	(void)state;
	t0 = tu_now_ms();
	assert_int_equal(
	    rd_dns_mx(d, "dead.example", mx, sizeof(mx)), RD_MX_UNKNOWN);
	took = tu_now_ms() - t0;
	assert_string_equal(mx, "");
	if (took < 190 || took > 200 + SLACK_MS)
		fail_msg("timeout: returned after %lld ms, want 200 ms", took);
	/* Local data answers at once, whatever is pending. */
	t0 = tu_now_ms();
	assert_int_equal(
	    rd_dns_mx(d, "here.relaydiag.test", NULL, 0), RD_MX_HERE);
	took = tu_now_ms() - t0;
	if (took > 150)
		fail_msg("local data behind a dead query: %lld ms", took);
	/* Freed with a query still in flight (leak-checked under ASan). */
	rd_dns_free(d);
}

static void
test_late_answer_lands_in_cache(void **state)
{
	struct rd_dns *d = new_resolver(100);
	char mx[64];
	long long t0, took;

	(void)state;
	t0 = tu_now_ms();
	assert_int_equal(
	    rd_dns_mx(d, "mail.slow.example", mx, sizeof(mx)), RD_MX_UNKNOWN);
	took = tu_now_ms() - t0;
	if (took > 100 + SLACK_MS)
		fail_msg(
		    "slow server: returned after %lld ms, want 100 ms", took);
	/* The server answers after LATE_DELAY_MS; unbound caches it. */
	usleep((LATE_DELAY_MS + 400) * 1000);
	assert_true(atomic_load(&fx.late_queries) >= 1);
	/* A fresh query would take LATE_DELAY_MS > 100 ms: this is cache. */
	assert_int_equal(
	    rd_dns_mx(d, "MAIL.slow.example.", mx, sizeof(mx)), RD_MX_HERE);
	assert_string_equal(mx, "mx.relaydiag.test");
	rd_dns_free(d);
}

static void
test_bad_configuration_is_an_error(void **state)
{
	struct rd_dns_params p = {NULL, 100, NULL};
	struct rd_dns *d;
	struct rd_err e;
	char path[128];

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/missing.conf", fx.dir);
	p.config_file = path;
	rd_err_clear(&e);
	assert_null(d = rd_dns_new(&p, &e));
	assert_string_equal(e.source, path);
	assert_non_null(strstr(e.text, "unbound"));

	/* Parsed by ub_ctx_config, refused when the resolver starts. */
	write_file("bad.conf",
	    "server:\n\tlocal-data: \"this is not a record\"\n", path,
	    sizeof(path));
	p.config_file = path;
	rd_err_clear(&e);
	assert_null(d = rd_dns_new(&p, &e));
	assert_string_equal(e.source, path);
	assert_true(e.text[0] != '\0');

	rd_err_clear(&e);
	assert_null(rd_dns_new(NULL, &e));
	assert_true(e.text[0] != '\0');
}

static void
test_answer_names(void **state)
{
	(void)state;
	assert_string_equal(rd_mx_answer_name(RD_MX_HERE), "here");
	assert_string_equal(rd_mx_answer_name(RD_MX_ELSEWHERE), "elsewhere");
	assert_string_equal(rd_mx_answer_name(RD_MX_NONE), "none");
	assert_string_equal(rd_mx_answer_name(RD_MX_UNKNOWN), "unknown");
}

#define N_THREADS 4
#define N_ROUNDS 100

struct worker {
	struct rd_dns *d;
	unsigned seed;
	int nfail;
	long long worst_ms; /* the slowest dead lookup */
	bool dead;          /* ask dead.example too */
};

/* worker_main - N_ROUNDS lookups over the cases, in a thread's own order */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	long long t0, took;
	size_t i, k;

	for (k = 0; k < N_ROUNDS; k++) {
		i = (size_t)rand_r(&w->seed) % N_MX_CASES;
		if (!check_case(w->d, &mx_cases[i]))
			w->nfail++;
		if (w->dead && k % 25 == 0) {
			t0 = tu_now_ms();
			if (rd_dns_mx(w->d, "dead.example", NULL, 0) !=
			    RD_MX_UNKNOWN)
				w->nfail++;
			took = tu_now_ms() - t0;
			if (took > w->worst_ms)
				w->worst_ms = took;
		}
	}
	return (NULL);
}

/* run_workers - N_THREADS workers on d; failures in total, worst delay */
static int
run_workers(struct rd_dns *d, bool dead, long long *worst_ms)
{
	struct worker w[N_THREADS];
	pthread_t t[N_THREADS];
	int i, nfail = 0;

	*worst_ms = 0;
	for (i = 0; i < N_THREADS; i++) {
		w[i].d = d;
		w[i].seed = (unsigned)i * 7919u + 1;
		w[i].nfail = 0;
		w[i].worst_ms = 0;
		w[i].dead = dead;
		assert_int_equal(
		    pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		nfail += w[i].nfail;
		if (w[i].worst_ms > *worst_ms)
			*worst_ms = w[i].worst_ms;
	}
	return (nfail);
}

static void
test_concurrent_lookups_from_4_threads(void **state)
{
	struct rd_dns *d = new_resolver(5000);
	long long worst;
	int nfail;

	(void)state;
	nfail = run_workers(d, false, &worst);
	rd_dns_free(d);
	TU_FAIL_IF_ANY(nfail, N_THREADS * N_ROUNDS);
}

static void
test_concurrent_deadlines_from_4_threads(void **state)
{
	struct rd_dns *d = new_resolver(150);
	long long worst;
	int nfail;

	(void)state;
	nfail = run_workers(d, true, &worst);
	rd_dns_free(d);
	TU_FAIL_IF_ANY(nfail, N_THREADS * N_ROUNDS);
	if (worst > 150 + SLACK_MS)
		fail_msg("a lookup took %lld ms, deadline 150 ms", worst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers_from_local_data),
	    cmocka_unit_test(test_mx_out_is_optional_and_cut_safely),
	    cmocka_unit_test(test_deadline_is_honoured),
	    cmocka_unit_test(test_late_answer_lands_in_cache),
	    cmocka_unit_test(test_bad_configuration_is_an_error),
	    cmocka_unit_test(test_answer_names),
	    cmocka_unit_test(test_concurrent_lookups_from_4_threads),
	    cmocka_unit_test(test_concurrent_deadlines_from_4_threads),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}

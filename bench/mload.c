/*
 * mload.c - a milter-protocol load generator: the MTA side of the milter
 * protocol (version 6), N sessions at concurrency C against one filter,
 * with throughput, latency per session and per stage, reply counts, and a
 * check of every byte the filter sends.
 *
 *     mload -s unix:/tmp/rdb/rd.sock -n 5000 -c 10 -m mix -w 500
 *     mload -s unix:/tmp/rdb/rd.sock -H 500       # hold 500 sessions open
 *
 * Each of the C threads runs one session at a time on its own connection,
 * as Postfix does: a new milter connection per SMTP session (no
 * SMFIC_QUIT_NC reuse), option negotiation on each. It offers version 6,
 * every action and every protocol flag (SMFIP_RCPT_REJ, SMFIP_SKIP, the
 * SMFIP_NO* skip flags and the SMFIP_NR_* no-reply flags) and honours the
 * answer: a stage the filter declined is not sent, and no reply is awaited
 * where the filter said it sends none. Before each stage comes an
 * SMFIC_MACRO packet with the macros the filter asked for with
 * smfi_setsymlist, or else Postfix 3.7's default lists; a macro without a
 * value is left out, as Postfix does. Recipients the MTA itself rejected go
 * to the filter only if it negotiated SMFIP_RCPT_REJ, with the macros a
 * real Postfix sends ({rcpt_mailer}=error {rcpt_host}=5.7.1 {rcpt_addr}=
 * Relay access denied; postfix-notes.md).
 *
 * Protocol errors (a malformed or unexpected reply, a reply where none was
 * due or none where one was, a modification action the filter did not
 * negotiate, data after QUIT, a timeout, a refused connection) fail the
 * session, are printed (the first 20) and make the exit status 1.
 *
 * After QUIT the session waits for the filter to close the connection (so
 * stray replies are seen, and at most C sessions are ever in the filter);
 * the session latency includes that close. Latencies of the stages are the
 * time from the event's write to its final reply; stages without a reply
 * are counted, not timed.
 *
 * Threads: C workers, plus main; per-thread statistics merged at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "milterwire.h"
#include "relaydiag/sockspec.h"

#define MLOAD_VERSION 6
#define MLOAD_ACTIONS ((uint32_t)SMFI_CURR_ACTS)
#define MLOAD_PROTO ((uint32_t)SMFI_CURR_PROT)
#define MLOAD_PKT_MAX (1024 * 1024) /* sanity bound on a reply */
#define MLOAD_ERRORS_SHOWN 20
#define MLOAD_RCPTS_MAX 6
#define MLOAD_MSTAGES (SMFIM_LAST + 1)
#define MLOAD_NAMES_MAX 32
#define MLOAD_NAME_LEN 64

/* ------------------------------------------------------------ stages -- */

enum stage {
	ST_OPTNEG,
	ST_CONNECT,
	ST_HELO,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_HEADER,
	ST_EOH,
	ST_BODY,
	ST_EOM,
	ST_ABORT,
	ST_QUIT,
	ST_SESSION,
	ST_N
};

static const char *const stage_name[ST_N] = {
    "optneg",
    "connect",
    "helo",
    "mail",
    "rcpt",
    "data",
    "header",
    "eoh",
    "body",
    "eom",
    "abort",
    "quit",
    "session",
};

/* The no-reply flag of each stage; 0: a reply is always due. */
static const uint32_t stage_nr[ST_N] = {
    [ST_CONNECT] = SMFIP_NR_CONN,
    [ST_HELO] = SMFIP_NR_HELO,
    [ST_MAIL] = SMFIP_NR_MAIL,
    [ST_RCPT] = SMFIP_NR_RCPT,
    [ST_DATA] = SMFIP_NR_DATA,
    [ST_HEADER] = SMFIP_NR_HDR,
    [ST_EOH] = SMFIP_NR_EOH,
    [ST_BODY] = SMFIP_NR_BODY,
};

/* The skip flag of each stage; 0: always sent. */
static const uint32_t stage_no[ST_N] = {
    [ST_CONNECT] = SMFIP_NOCONNECT,
    [ST_HELO] = SMFIP_NOHELO,
    [ST_MAIL] = SMFIP_NOMAIL,
    [ST_RCPT] = SMFIP_NORCPT,
    [ST_DATA] = SMFIP_NODATA,
    [ST_HEADER] = SMFIP_NOHDRS,
    [ST_EOH] = SMFIP_NOEOH,
    [ST_BODY] = SMFIP_NOBODY,
};

/* Reply kinds, counted. */
enum rk {
	RK_NONE = -1,
	RK_CONTINUE,
	RK_REJECT,
	RK_TEMPFAIL,
	RK_ACCEPT,
	RK_DISCARD,
	RK_SKIP,
	RK_N
};

static const char *const rk_name[RK_N] = {
    "continue",
    "reject",
    "tempfail",
    "accept",
    "discard",
    "skip",
};

/* Modification actions at end of message, counted. */
enum mod {
	MOD_ADDHEADER,
	MOD_INSHEADER,
	MOD_CHGHEADER,
	MOD_ADDRCPT,
	MOD_DELRCPT,
	MOD_CHGFROM,
	MOD_REPLBODY,
	MOD_QUARANTINE,
	MOD_PROGRESS,
	MOD_N
};

static const char *const mod_name[MOD_N] = {
    "addheader",
    "insheader",
    "chgheader",
    "addrcpt",
    "delrcpt",
    "chgfrom",
    "replbody",
    "quarantine",
    "progress",
};

/* --------------------------------------------------------- options -- */

enum mix { MIX_PLAIN, MIX_REAL, MIX_GATE };

struct opts {
	const char *socket;
	unsigned long sessions;
	unsigned concurrency;
	enum mix mix;
	unsigned long warmup;
	unsigned hold;         /* -H: sessions held open, 0: off */
	unsigned hold_secs;    /* -T */
	unsigned timeout_secs; /* -t */
	size_t body_len;       /* -b */
	uint64_t seed;         /* -S */
	bool quiet;            /* -q: only the result line */
	/* the address, resolved once */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static struct opts opt = {
    .sessions = 1000,
    .concurrency = 10,
    .mix = MIX_REAL,
    .hold_secs = 120,
    .timeout_secs = 10,
    .body_len = 1024,
    .seed = 1,
};

static char *body_text; /* opt.body_len bytes, CRLF lines */

/* ------------------------------------------------------ statistics -- */

struct samples {
	uint64_t *v; /* nanoseconds */
	size_t n, cap;
};

struct tstats {
	struct samples lat[ST_N];
	uint64_t events[ST_N];  /* sent */
	uint64_t noreply[ST_N]; /* sent, no reply due */
	uint64_t replies[RK_N];
	uint64_t replycode; /* of which 'y' with text */
	uint64_t mods[MOD_N];
	uint64_t rcpt_total;      /* recipients in the sessions */
	uint64_t rcpt_answered;   /* RCPT events answered */
	uint64_t rcpt_unseen;     /* MTA-rejected, no SMFIP_RCPT_REJ */
	uint64_t rcpt_mta_rej;    /* MTA-rejected, sent to the filter */
	uint64_t rcpt_filter_rej; /* rejected or tempfailed by it */
	uint64_t aborts;          /* transactions aborted */
	uint64_t ok, failed;
};

static void
samples_add(struct samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *p = realloc(s->v, cap * sizeof(*p));

		if (p == NULL) {
			fprintf(stderr, "mload: out of memory\n");
			exit(2);
		}
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static void
tstats_merge(struct tstats *to, struct tstats *from)
{
	size_t i, j;

	for (i = 0; i < ST_N; i++) {
		for (j = 0; j < from->lat[i].n; j++)
			samples_add(&to->lat[i], from->lat[i].v[j]);
		free(from->lat[i].v);
		from->lat[i].v = NULL;
		to->events[i] += from->events[i];
		to->noreply[i] += from->noreply[i];
	}
	for (i = 0; i < RK_N; i++)
		to->replies[i] += from->replies[i];
	for (i = 0; i < MOD_N; i++)
		to->mods[i] += from->mods[i];
	to->replycode += from->replycode;
	to->rcpt_total += from->rcpt_total;
	to->rcpt_answered += from->rcpt_answered;
	to->rcpt_unseen += from->rcpt_unseen;
	to->rcpt_mta_rej += from->rcpt_mta_rej;
	to->rcpt_filter_rej += from->rcpt_filter_rej;
	to->aborts += from->aborts;
	to->ok += from->ok;
	to->failed += from->failed;
}

static atomic_ulong n_errors;
/* Sessions in a row that could not connect: past MLOAD_GIVE_UP, stop. */
#define MLOAD_GIVE_UP 50
static atomic_ulong n_connect_fail_run;
static atomic_bool gave_up;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

/* What the first session negotiated, for the report. */
static pthread_mutex_t neg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool neg_seen;
static uint32_t neg_version, neg_actions, neg_proto;
static char neg_lists[MLOAD_MSTAGES][512];
static bool neg_has_list[MLOAD_MSTAGES];
static atomic_ulong neg_differs;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* -------------------------------------------------------- the mix -- */

struct rcpt_spec {
	char addr[96]; /* <local@domain> */
	char bare[96]; /* local@domain */
	bool mta_rej;
	const char *mailer, *host, *raddr; /* the rcpt macros */
	char hostbuf[64];
};

struct spec {
	unsigned long idx;
	char client_ip[40];
	char client_port[8];
	const char *client_name;
	const char *daemon_name;
	const char *daemon_port;
	char helo[64];
	bool tls, auth;
	char auth_user[64];
	char sender[96];
	char sender_domain[64];
	struct rcpt_spec rcpt[MLOAD_RCPTS_MAX];
	size_t nrcpt;
	char qid[16];
	char subject[64];
};

static uint64_t
mix_rand(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static struct rcpt_spec *spec_rcpt(struct spec *sp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* spec_rcpt - a new recipient of the session, its <address> from fmt */
static struct rcpt_spec *
spec_rcpt(struct spec *sp, const char *fmt, ...)
{
	struct rcpt_spec *r = &sp->rcpt[sp->nrcpt++];
	va_list ap;
	size_t len;

	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(r->addr, sizeof(r->addr), fmt, ap);
	va_end(ap);
	len = strlen(r->addr);
	if (len >= 2) {
		memcpy(r->bare, r->addr + 1, len - 2);
		r->bare[len - 2] = '\0';
	}
	return (r);
}

/* Accepted by the MTA: {rcpt_mailer} transport, {rcpt_host} next hop. */
static void
spec_rcpt_ok(struct rcpt_spec *r, const char *mailer, const char *host)
{
	const char *at = strchr(r->addr, '@');

	r->mailer = mailer;
	if (host == NULL && at != NULL) {
		snprintf(r->hostbuf, sizeof(r->hostbuf), "%.*s",
		    (int)strcspn(at + 1, ">"), at + 1);
		host = r->hostbuf;
	}
	r->host = host;
	r->raddr = r->bare; /* {rcpt_addr}: without the angle brackets */
}

static void
spec_rcpt_rej(struct rcpt_spec *r, const char *dsn, const char *text)
{
	r->mta_rej = true;
	r->mailer = "error";
	r->host = dsn;
	r->raddr = text;
}

/*
 * spec_make - session idx of the mix. plain: an outside client, no TLS, no
 * AUTH, one local recipient (the shape the protocol notes were measured
 * with). mix: 45% inbound MX (60% TLS; 15% with an unknown local user the
 * MTA rejects), 25% authenticated submission on 587 with TLS to 1-3 outside
 * recipients (+ a local one 30%), 15% a trusted-network client relaying
 * outward, 15% an outside client trying to relay (rejected by the MTA:
 * Relay access denied), half of them with a local recipient as well.
 * gate: an open relay's traffic, outside clients relaying with the MTA
 * accepting (for relaydiag's RelayGate, which refuses them with a reply
 * text), half with a local recipient as well.
 */
static void
spec_make(struct spec *sp, unsigned long idx)
{
	uint64_t st = opt.seed * 0x100000001b3ULL + idx;
	unsigned r = (unsigned)(mix_rand(&st) % 100);
	unsigned a = (unsigned)(mix_rand(&st) % 250) + 1;
	unsigned k = (unsigned)(mix_rand(&st) % 100);
	unsigned n, i;
	struct rcpt_spec *rc;

	memset(sp, 0, sizeof(*sp));
	sp->idx = idx;
	snprintf(sp->client_port, sizeof(sp->client_port), "%u",
	    (unsigned)(1024 + mix_rand(&st) % 64000));
	snprintf(sp->qid, sizeof(sp->qid), "4B%08lX", idx & 0xffffffffUL);
	snprintf(
	    sp->subject, sizeof(sp->subject), "load test message %lu", idx);
	sp->client_name = "unknown";
	sp->daemon_name = "mx.relaydiag.test";
	sp->daemon_port = "25";
	if (opt.mix == MIX_PLAIN)
		r = 0, k = 100;
	if (opt.mix == MIX_GATE) { /* an open relay's traffic */
		snprintf(
		    sp->client_ip, sizeof(sp->client_ip), "198.51.100.%u", a);
		snprintf(sp->helo, sizeof(sp->helo), "host%u.spam.test", a);
		snprintf(sp->sender_domain, sizeof(sp->sender_domain),
		    "spam%u.test", a);
		snprintf(sp->sender, sizeof(sp->sender), "<x@%s>",
		    sp->sender_domain);
		rc = spec_rcpt(sp, "<victim%u@gmail.test>", a);
		spec_rcpt_ok(rc, "smtp", NULL);
		if (k % 2 == 0) {
			rc = spec_rcpt(sp, "<alice@example.test>");
			spec_rcpt_ok(rc, "virtual", "mx.relaydiag.test");
		}
		return;
	}
	if (r < 45) { /* inbound MX */
		snprintf(
		    sp->client_ip, sizeof(sp->client_ip), "203.0.113.%u", a);
		snprintf(sp->helo, sizeof(sp->helo), "mail.sender%u.test", a);
		snprintf(sp->sender_domain, sizeof(sp->sender_domain),
		    "sender%u.test", a);
		sp->tls = opt.mix != MIX_PLAIN && k < 60;
		rc = spec_rcpt(sp, "<alice@example.test>");
		spec_rcpt_ok(rc, "virtual", "mx.relaydiag.test");
		if (opt.mix != MIX_PLAIN && k % 5 < 2) {
			rc = spec_rcpt(sp, "<bob@example.test>");
			spec_rcpt_ok(rc, "virtual", "mx.relaydiag.test");
		}
		if (opt.mix != MIX_PLAIN && k % 20 < 3) {
			rc = spec_rcpt(sp, "<nobody%u@example.test>", a);
			spec_rcpt_rej(rc, "5.1.1",
			    "Recipient address "
			    "rejected: User unknown in virtual mailbox table");
		}
		snprintf(sp->sender, sizeof(sp->sender), "<news@%s>",
		    sp->sender_domain);
	} else if (r < 70) { /* authenticated submission */
		snprintf(sp->client_ip, sizeof(sp->client_ip), "192.0.2.%u", a);
		snprintf(sp->helo, sizeof(sp->helo), "[192.0.2.%u]", a);
		sp->daemon_name = "ORIGINATING";
		sp->daemon_port = "587";
		sp->tls = true;
		sp->auth = true;
		snprintf(sp->auth_user, sizeof(sp->auth_user),
		    "user%u@example.test", a);
		snprintf(sp->sender_domain, sizeof(sp->sender_domain),
		    "example.test");
		snprintf(sp->sender, sizeof(sp->sender), "<%s>", sp->auth_user);
		n = 1 + k % 3;
		for (i = 0; i < n; i++) {
			rc = spec_rcpt(sp, "<friend%u@gmail.test>", a + i);
			spec_rcpt_ok(rc, "smtp", NULL);
		}
		if (k < 30) {
			rc = spec_rcpt(sp, "<alice@example.test>");
			spec_rcpt_ok(rc, "virtual", "mx.relaydiag.test");
		}
	} else if (r < 85) { /* trusted network */
		snprintf(sp->client_ip, sizeof(sp->client_ip), "10.1.2.%u", a);
		snprintf(sp->helo, sizeof(sp->helo), "app%u.internal.test", a);
		snprintf(sp->sender_domain, sizeof(sp->sender_domain),
		    "example.test");
		snprintf(
		    sp->sender, sizeof(sp->sender), "<app%u@example.test>", a);
		n = 1 + k % 2;
		for (i = 0; i < n; i++) {
			rc = spec_rcpt(sp, "<customer%u@remote.test>", a + i);
			spec_rcpt_ok(rc, "smtp", NULL);
		}
	} else { /* relay attempt */
		snprintf(
		    sp->client_ip, sizeof(sp->client_ip), "198.51.100.%u", a);
		snprintf(sp->helo, sizeof(sp->helo), "host%u.spam.test", a);
		snprintf(sp->sender_domain, sizeof(sp->sender_domain),
		    "spam%u.test", a);
		snprintf(sp->sender, sizeof(sp->sender), "<x@%s>",
		    sp->sender_domain);
		sp->tls = k < 30;
		rc = spec_rcpt(sp, "<victim%u@gmail.test>", a);
		spec_rcpt_rej(rc, "5.7.1", "Relay access denied");
		if (k % 2 == 0) {
			rc = spec_rcpt(sp, "<alice@example.test>");
			spec_rcpt_ok(rc, "virtual", "mx.relaydiag.test");
		}
	}
}

/* ------------------------------------------------------- macro lists -- */

struct mlist {
	char name[MLOAD_NAMES_MAX][MLOAD_NAME_LEN];
	size_t n;
};

/*
 * Postfix 3.7's defaults (postconf -d milter_*_macros), used for a stage
 * the filter asked nothing for.
 */
static const char *const default_lists[MLOAD_MSTAGES] = {
    [SMFIM_CONNECT] = "j {daemon_name} {daemon_addr} v _",
    [SMFIM_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} "
		   "{cert_issuer}",
    [SMFIM_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} "
		      "{mail_addr} {mail_host} {mail_mailer}",
    [SMFIM_ENVRCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    [SMFIM_DATA] = "i",
    [SMFIM_EOM] = "i",
    [SMFIM_EOH] = "i",
};

/* The SMFIC_MACRO command letter of each macro stage. */
static const char mstage_cmd[MLOAD_MSTAGES] = {
    [SMFIM_CONNECT] = SMFIC_CONNECT,
    [SMFIM_HELO] = SMFIC_HELO,
    [SMFIM_ENVFROM] = SMFIC_MAIL,
    [SMFIM_ENVRCPT] = SMFIC_RCPT,
    [SMFIM_DATA] = SMFIC_DATA,
    [SMFIM_EOM] = SMFIC_BODYEOB,
    [SMFIM_EOH] = SMFIC_EOH,
};

static struct mlist default_mlist[MLOAD_MSTAGES];

/* mlist_parse - split a list as Postfix does (", \t\r\n"); -1: too many */
static int
mlist_parse(struct mlist *l, const char *text)
{
	const char *p = text;
	size_t len;

	l->n = 0;
	for (;;) {
		p += strspn(p, ", \t\r\n");
		if (*p == '\0')
			return (0);
		len = strcspn(p, ", \t\r\n");
		if (l->n == MLOAD_NAMES_MAX || len >= MLOAD_NAME_LEN)
			return (-1);
		memcpy(l->name[l->n], p, len);
		l->name[l->n++][len] = '\0';
		p += len;
	}
}

/* ------------------------------------------------------ connections -- */

struct sess {
	struct tstats *ts;
	const struct spec *sp;
	int fd;
	struct mw_buf out;
	unsigned char *in;
	size_t icap, ipos, ilen;
	/* negotiated */
	uint32_t version, actions, proto;
	struct mlist lists[MLOAD_MSTAGES];
	bool has_list[MLOAD_MSTAGES];
	/* where we are */
	enum stage stage;
	size_t rcpt_no;
	const struct rcpt_spec *cur_rcpt;
	bool tls_active; /* after STARTTLS */
	bool qid_known;
	bool held;
	bool connect_failed;
	char err[320];
};

static int sess_fail(struct sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sess_fail(struct sess *s, const char *fmt, ...)
{
	va_list ap;
	char where[64];

	if (s->err[0] != '\0')
		return (-1);
	if (s->stage == ST_RCPT)
		snprintf(where, sizeof(where), "rcpt %zu", s->rcpt_no + 1);
	else
		snprintf(where, sizeof(where), "%s", stage_name[s->stage]);
	snprintf(
	    s->err, sizeof(s->err), "session %lu, %s: ", s->sp->idx, where);
	va_start(ap, fmt);
	vsnprintf(
	    s->err + strlen(s->err), sizeof(s->err) - strlen(s->err), fmt, ap);
	va_end(ap);
	return (-1);
}

static int
sess_connect(struct sess *s)
{
	struct timeval tv;

	s->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return (sess_fail(s, "socket: %s", strerror(errno)));
	tv.tv_sec = opt.timeout_secs;
	tv.tv_usec = 0;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return (sess_fail(s, "setsockopt: %s", strerror(errno)));
	while (connect(s->fd, (const struct sockaddr *)&opt.addr,
		   opt.addrlen) != 0) {
		if (errno == EINTR)
			continue;
		s->connect_failed = true;
		return (sess_fail(
		    s, "connect %s: %s", opt.socket, strerror(errno)));
	}
	return (0);
}

static int
sess_flush(struct sess *s)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->out.len) {
		n = send(s->fd, s->out.p + off, s->out.len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (sess_fail(s,
			    "timeout after %u s writing to "
			    "the filter",
			    opt.timeout_secs));
		if (n < 0)
			return (sess_fail(s, "write: %s", strerror(errno)));
		off += (size_t)n;
	}
	s->out.len = 0;
	return (0);
}

/* sess_fill - at least need unread bytes in the input buffer */
static int
sess_fill(struct sess *s, size_t need)
{
	ssize_t n;

	while (s->ilen - s->ipos < need) {
		if (s->ipos > 0) {
			memmove(s->in, s->in + s->ipos, s->ilen - s->ipos);
			s->ilen -= s->ipos;
			s->ipos = 0;
		}
		if (need > s->icap) {
			unsigned char *p = realloc(s->in, need);

			if (p == NULL) {
				fprintf(stderr, "mload: out of memory\n");
				exit(2);
			}
			s->in = p;
			s->icap = need;
		}
		n = read(s->fd, s->in + s->ilen, s->icap - s->ilen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (sess_fail(s, "timeout: no reply after %u s",
			    opt.timeout_secs));
		if (n < 0)
			return (sess_fail(s, "read: %s", strerror(errno)));
		if (n == 0)
			return (
			    sess_fail(s, "the filter closed the "
					 "connection while a reply was due"));
		s->ilen += (size_t)n;
	}
	return (0);
}

/* sess_read - one packet; *data stays valid until the next read */
static int
sess_read(struct sess *s, char *cmd, const unsigned char **data, size_t *len)
{
	if (sess_fill(s, 5) != 0)
		return (-1);
	if (mw_hdr(s->in + s->ipos, MLOAD_PKT_MAX, cmd, len) != 0)
		return (
		    sess_fail(s, "malformed reply: packet length %zu", *len));
	if (sess_fill(s, 5 + *len) != 0)
		return (-1);
	*data = s->in + s->ipos + 5;
	s->ipos += 5 + *len;
	return (0);
}

/* ---------------------------------------------------------- macros -- */

static const char *
macro_value(const struct sess *s, const char *name)
{
	const struct spec *sp = s->sp;
	const struct rcpt_spec *r = s->cur_rcpt;
	static const char *const tls_macros[][2] = {
	    {"{tls_version}", "TLSv1.3"},
	    {"{cipher}", "TLS_AES_256_GCM_SHA384"},
	    {"{cipher_bits}", "256"},
	};
	size_t i;

	if (strcmp(name, "j") == 0 || strcmp(name, "{j}") == 0)
		return ("mx.relaydiag.test");
	if (strcmp(name, "v") == 0 || strcmp(name, "{v}") == 0)
		return ("Postfix 3.7.11");
	if (strcmp(name, "_") == 0 || strcmp(name, "{_}") == 0)
		return (sp->client_ip[0] != '\0' ? "unknown" : NULL);
	if (strcmp(name, "{daemon_name}") == 0)
		return (sp->daemon_name);
	if (strcmp(name, "{daemon_addr}") == 0)
		return ("127.0.0.1");
	if (strcmp(name, "{daemon_port}") == 0)
		return (sp->daemon_port);
	if (strcmp(name, "{client_addr}") == 0)
		return (sp->client_ip);
	if (strcmp(name, "{client_port}") == 0)
		return (sp->client_port);
	if (strcmp(name, "{client_name}") == 0 ||
	    strcmp(name, "{client_ptr}") == 0)
		return (sp->client_name);
	for (i = 0; i < sizeof(tls_macros) / sizeof(tls_macros[0]); i++)
		if (strcmp(name, tls_macros[i][0]) == 0)
			return (s->tls_active ? tls_macros[i][1] : NULL);
	if (strcmp(name, "i") == 0 || strcmp(name, "{i}") == 0)
		return (s->qid_known ? sp->qid : NULL);
	if (strcmp(name, "{auth_type}") == 0)
		return (sp->auth ? "PLAIN" : NULL);
	if (strcmp(name, "{auth_authen}") == 0)
		return (sp->auth ? sp->auth_user : NULL);
	if (strcmp(name, "{mail_addr}") == 0)
		return (sp->sender);
	if (strcmp(name, "{mail_host}") == 0)
		return (sp->sender_domain);
	if (strcmp(name, "{mail_mailer}") == 0)
		return ("smtp");
	if (r != NULL && strcmp(name, "{rcpt_mailer}") == 0)
		return (r->mailer);
	if (r != NULL && strcmp(name, "{rcpt_host}") == 0)
		return (r->host);
	if (r != NULL && strcmp(name, "{rcpt_addr}") == 0)
		return (r->raddr);
	/* {cert_subject} {cert_issuer} {auth_author} ...: no value */
	return (NULL);
}

/* sess_macros - the SMFIC_MACRO packet of a stage, if it has any value */
static void
sess_macros(struct sess *s, int mstage)
{
	const struct mlist *l =
	    s->has_list[mstage] ? &s->lists[mstage] : &default_mlist[mstage];
	size_t off = 0, i, n = 0;
	const char *v;
	char c = mstage_cmd[mstage];

	for (i = 0; i < l->n; i++) {
		if ((v = macro_value(s, l->name[i])) == NULL || *v == '\0')
			continue;
		if (n++ == 0) {
			off = mw_pkt_begin(&s->out, SMFIC_MACRO);
			mw_put(&s->out, &c, 1);
		}
		mw_str(&s->out, l->name[i]);
		mw_str(&s->out, v);
	}
	if (n > 0)
		mw_pkt_end(&s->out, off);
}

/* ---------------------------------------------------------- replies -- */

/* header_ok - a header name and value a real MTA would take */
static bool
header_ok(const char *name, const char *value)
{
	const char *p;

	if (*name == '\0')
		return (false);
	for (p = name; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return (false);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\r')
			return (false);
		/* folded with "\n\t" or "\n " (milter-protocol-notes.md) */
		if (*p == '\n' && p[1] != '\t' && p[1] != ' ')
			return (false);
	}
	return (true);
}

/*
 * reply_text_kind - a SMFIR_REPLYCODE text: lines joined by CRLF, each
 * "NNN-..." but the last "NNN ...", one code, 4xx or 5xx (Postfix's
 * milter8_valid_smtp_reply). RK_REJECT/RK_TEMPFAIL, or RK_NONE.
 */
static enum rk
reply_text_kind(const unsigned char *d, size_t n)
{
	const char *t = (const char *)d, *line, *end;
	size_t len;

	if (n < 4 || d[n - 1] != '\0' || strlen(t) != n - 1)
		return (RK_NONE);
	if ((t[0] != '4' && t[0] != '5') || t[1] < '0' || t[1] > '9' ||
	    t[2] < '0' || t[2] > '9')
		return (RK_NONE);
	for (line = t;; line = end + 2) {
		end = strstr(line, "\r\n");
		len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (len < 3 || memcmp(line, t, 3) != 0)
			return (RK_NONE);
		if (end != NULL && (len < 4 || line[3] != '-'))
			return (RK_NONE);
		if (end == NULL && len > 3 && line[3] != ' ')
			return (RK_NONE);
		if (memchr(line, '\r', len) != NULL ||
		    memchr(line, '\n', len) != NULL)
			return (RK_NONE);
		if (end == NULL)
			break;
	}
	return (t[0] == '4' ? RK_TEMPFAIL : RK_REJECT);
}

/* sess_mod - one modification action at end of message */
static int
sess_mod(struct sess *s, char cmd, const unsigned char *d, size_t n)
{
	const char *v[3];
	uint32_t need;
	enum mod m;
	int k;

	switch (cmd) {
	case SMFIR_ADDHEADER:
		m = MOD_ADDHEADER, need = SMFIF_ADDHDRS;
		k = mw_strs(d, n, v, 2, 2);
		if (k == 2 && !header_ok(v[0], v[1]))
			k = -1;
		break;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		m = cmd == SMFIR_INSHEADER ? MOD_INSHEADER : MOD_CHGHEADER;
		need = cmd == SMFIR_INSHEADER ? SMFIF_ADDHDRS : SMFIF_CHGHDRS;
		k = n > 4 ? mw_strs(d + 4, n - 4, v, 2, 2) : -1;
		if (k == 2 && !header_ok(v[0], v[1]))
			k = -1;
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		m = cmd == SMFIR_ADDRCPT   ? MOD_ADDRCPT
		    : cmd == SMFIR_DELRCPT ? MOD_DELRCPT
					   : MOD_QUARANTINE;
		need = cmd == SMFIR_ADDRCPT   ? SMFIF_ADDRCPT
		       : cmd == SMFIR_DELRCPT ? SMFIF_DELRCPT
					      : SMFIF_QUARANTINE;
		k = mw_strs(d, n, v, 1, 1);
		break;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		m = cmd == SMFIR_CHGFROM ? MOD_CHGFROM : MOD_ADDRCPT;
		need = cmd == SMFIR_CHGFROM ? SMFIF_CHGFROM : SMFIF_ADDRCPT_PAR;
		k = mw_strs(d, n, v, 1, 2);
		break;
	case SMFIR_REPLBODY:
		m = MOD_REPLBODY, need = SMFIF_CHGBODY, k = 0;
		break;
	case SMFIR_PROGRESS:
		m = MOD_PROGRESS, need = 0, k = n == 0 ? 0 : -1;
		break;
	default:
		return (sess_fail(s,
		    "unexpected reply '%c' (0x%02x), "
		    "%zu bytes",
		    cmd >= 32 && cmd < 127 ? cmd : '?', (unsigned char)cmd, n));
	}
	if (s->stage != ST_EOM)
		return (sess_fail(s,
		    "modification action '%c' (%s) outside "
		    "end of message",
		    cmd, mod_name[m]));
	if ((s->actions & need) != need)
		return (sess_fail(s,
		    "modification action '%c' (%s) without "
		    "negotiating action 0x%" PRIx32,
		    cmd, mod_name[m], need));
	if (k < 0)
		return (sess_fail(s, "malformed '%c' (%s) action, %zu bytes",
		    cmd, mod_name[m], n));
	s->ts->mods[m]++;
	return (0);
}

/* sess_reply - the final reply to the current stage, after any actions */
static int
sess_reply(struct sess *s, enum rk *rk)
{
	const unsigned char *d;
	size_t n;
	char cmd;

	for (;;) {
		if (sess_read(s, &cmd, &d, &n) != 0)
			return (-1);
		switch (cmd) {
		case SMFIR_CONTINUE:
			*rk = RK_CONTINUE;
			break;
		case SMFIR_REJECT:
			*rk = RK_REJECT;
			break;
		case SMFIR_TEMPFAIL:
			*rk = RK_TEMPFAIL;
			break;
		case SMFIR_ACCEPT:
			*rk = RK_ACCEPT;
			break;
		case SMFIR_DISCARD:
			*rk = RK_DISCARD;
			break;
		case SMFIR_SKIP:
			if (s->stage != ST_BODY || !(s->proto & SMFIP_SKIP))
				return (
				    sess_fail(s, "SMFIR_SKIP outside the "
						 "body or without SMFIP_SKIP"));
			*rk = RK_SKIP;
			break;
		case SMFIR_REPLYCODE:
			if ((*rk = reply_text_kind(d, n)) == RK_NONE)
				return (sess_fail(s,
				    "malformed reply text "
				    "(%zu bytes): \"%.*s\"",
				    n, (int)(n > 120 ? 120 : n),
				    (const char *)d));
			s->ts->replycode++;
			s->ts->replies[*rk]++;
			return (0);
		default:
			if (sess_mod(s, cmd, d, n) != 0)
				return (-1);
			continue;
		}
		if (n != 0)
			return (sess_fail(s,
			    "malformed reply '%c': %zu bytes "
			    "of data",
			    cmd, n));
		s->ts->replies[*rk]++;
		return (0);
	}
}

/*
 * sess_event - one stage: its macros (mstage, or -1), the command, and the
 * reply unless the filter negotiated none for this stage (*rk RK_NONE).
 */
static int
sess_event(struct sess *s, enum stage st, int mstage, char cmd,
    const void *data, size_t len, enum rk *rk)
{
	uint64_t t0;
	size_t off;

	s->stage = st;
	*rk = RK_NONE;
	if (mstage >= 0)
		sess_macros(s, mstage);
	off = mw_pkt_begin(&s->out, cmd);
	mw_put(&s->out, data, len);
	mw_pkt_end(&s->out, off);
	t0 = now_ns();
	if (sess_flush(s) != 0)
		return (-1);
	s->ts->events[st]++;
	if (st == ST_ABORT || st == ST_QUIT)
		return (0); /* never answered */
	if ((s->proto & stage_nr[st]) != 0) {
		s->ts->noreply[st]++;
		return (0);
	}
	if (sess_reply(s, rk) != 0)
		return (-1);
	samples_add(&s->ts->lat[st], now_ns() - t0);
	return (0);
}

/* ------------------------------------------------------ negotiation -- */

static void
neg_record(const struct sess *s, const char *lists[MLOAD_MSTAGES])
{
	size_t i;

	pthread_mutex_lock(&neg_lock);
	if (!neg_seen) {
		neg_seen = true;
		neg_version = s->version;
		neg_actions = s->actions;
		neg_proto = s->proto;
		for (i = 0; i < MLOAD_MSTAGES; i++)
			if ((neg_has_list[i] = lists[i] != NULL))
				snprintf(neg_lists[i], sizeof(neg_lists[i]),
				    "%s", lists[i]);
	} else if (neg_version != s->version || neg_actions != s->actions ||
		   neg_proto != s->proto)
		atomic_fetch_add(&neg_differs, 1);
	pthread_mutex_unlock(&neg_lock);
}

static int
sess_optneg(struct sess *s)
{
	const unsigned char *d;
	const char *lists[MLOAD_MSTAGES] = {NULL};
	uint32_t stage;
	size_t n, i, slen;
	char cmd;
	uint64_t t0;

	s->stage = ST_OPTNEG;
	mw_optneg(&s->out, MLOAD_VERSION, MLOAD_ACTIONS, MLOAD_PROTO);
	t0 = now_ns();
	if (sess_flush(s) != 0 || sess_read(s, &cmd, &d, &n) != 0)
		return (-1);
	if (cmd != SMFIC_OPTNEG)
		return (sess_fail(s,
		    "expected the SMFIC_OPTNEG reply, got "
		    "'%c' (0x%02x)",
		    cmd >= 32 && cmd < 127 ? cmd : '?', (unsigned char)cmd));
	if (mw_optneg_parse(d, n, &s->version, &s->actions, &s->proto) != 0)
		return (sess_fail(s,
		    "malformed SMFIC_OPTNEG reply: %zu "
		    "bytes",
		    n));
	if (s->version < 2 || s->version > MLOAD_VERSION)
		return (sess_fail(s,
		    "filter answered protocol version %" PRIu32 "; offered %d",
		    s->version, MLOAD_VERSION));
	if ((s->actions & ~MLOAD_ACTIONS) != 0)
		return (sess_fail(s,
		    "filter wants actions 0x%" PRIx32
		    " not offered (offered 0x%" PRIx32 ")",
		    s->actions, MLOAD_ACTIONS));
	if ((s->proto & ~MLOAD_PROTO) != 0)
		return (sess_fail(s,
		    "filter wants protocol flags 0x%" PRIx32
		    " not offered (offered 0x%" PRIx32 ")",
		    s->proto, MLOAD_PROTO));
	/* Then (stage, "macro list\0") pairs: smfi_setsymlist. */
	for (i = 12; i < n; i += slen + 1) {
		if (n - i < 5 || memchr(d + i + 4, '\0', n - i - 4) == NULL)
			return (sess_fail(s,
			    "malformed macro list in the "
			    "SMFIC_OPTNEG reply at byte %zu",
			    i));
		memcpy(&stage, d + i, 4);
		stage = ntohl(stage);
		i += 4;
		slen = strlen((const char *)d + i);
		if (stage >= MLOAD_MSTAGES)
			return (sess_fail(
			    s, "macro list for unknown stage %" PRIu32, stage));
		if (!(s->actions & SMFIF_SETSYMLIST))
			return (sess_fail(s, "macro list without "
					     "SMFIF_SETSYMLIST"));
		if (mlist_parse(&s->lists[stage], (const char *)d + i) != 0)
			return (sess_fail(s,
			    "macro list for stage %" PRIu32 " too long",
			    stage));
		s->has_list[stage] = true;
		lists[stage] = (const char *)d + i;
	}
	samples_add(&s->ts->lat[ST_OPTNEG], now_ns() - t0);
	s->ts->events[ST_OPTNEG]++;
	s->ts->replies[RK_CONTINUE]++;
	neg_record(s, lists);
	return (0);
}

/* ------------------------------------------------------------- hold -- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned held, failed;
	bool released;
} hold = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};

static void
hold_arrive(struct sess *s, bool failed)
{
	pthread_mutex_lock(&hold.lock);
	if (failed)
		hold.failed++;
	else
		hold.held++;
	pthread_cond_broadcast(&hold.cond);
	if (!failed) {
		s->held = true;
		while (!hold.released)
			pthread_cond_wait(&hold.cond, &hold.lock);
	}
	pthread_mutex_unlock(&hold.lock);
}

/* ---------------------------------------------------------- session -- */

/* The message's headers; NULL values are made per session. */
static const char *const msg_headers[][2] = {
    {"Received", NULL},
    {"From", NULL},
    {"To", "Alice <alice@example.test>"},
    {"Subject", NULL},
    {"Date", "Sun, 23 Nov 2025 18:00:00 +0000"},
    {"Message-ID", NULL},
    {"MIME-Version", "1.0"},
    {"Content-Type", "text/plain; charset=us-ascii"},
};

static size_t
header_value(const struct sess *s, size_t i, char *buf, size_t len)
{
	const struct spec *sp = s->sp;
	/* with SMFIP_HDR_LEADSPC the value keeps its leading space */
	const char *sp1 = (s->proto & SMFIP_HDR_LEADSPC) ? " " : "";
	int n;

	switch (i) {
	case 0:
		n = snprintf(buf, len,
		    "%sfrom %s (unknown [%s])\n\tby "
		    "mx.relaydiag.test (Postfix) with ESMTP id %s\n\tfor "
		    "%s; Sun, 23 Nov 2025 18:00:00 +0000 (UTC)",
		    sp1, sp->helo, sp->client_ip, sp->qid, sp->rcpt[0].addr);
		break;
	case 1:
		n = snprintf(buf, len, "%sSender %s", sp1, sp->sender);
		break;
	case 3:
		n = snprintf(buf, len, "%s%s", sp1, sp->subject);
		break;
	case 5:
		n = snprintf(buf, len, "%s<%s.%lu@%s>", sp1, sp->qid, sp->idx,
		    sp->sender_domain);
		break;
	default:
		n = snprintf(buf, len, "%s%s", sp1, msg_headers[i][1]);
		break;
	}
	return (n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n);
}

/* A final reply that ends the session's view of the message or more. */
static bool
rk_stops(enum rk rk)
{
	return (rk == RK_REJECT || rk == RK_TEMPFAIL || rk == RK_ACCEPT ||
		rk == RK_DISCARD);
}

/* sess_message - DATA, headers, EOH, body, EOM, as far as allowed */
static int
sess_message(struct sess *s)
{
	unsigned char hbuf[1024];
	char val[900];
	size_t i, hl, nl, vl, off;
	enum rk rk = RK_NONE;

	if (!(s->proto & SMFIP_NODATA)) {
		if (sess_event(
			s, ST_DATA, SMFIM_DATA, SMFIC_DATA, NULL, 0, &rk) != 0)
			return (-1);
		if (rk_stops(rk))
			goto stopped;
	}
	if (!(s->proto & SMFIP_NOHDRS)) {
		for (i = 0; i < sizeof(msg_headers) / sizeof(msg_headers[0]);
		     i++) {
			nl = strlen(msg_headers[i][0]);
			vl = header_value(s, i, val, sizeof(val));
			memcpy(hbuf, msg_headers[i][0], nl + 1);
			memcpy(hbuf + nl + 1, val, vl + 1);
			if (sess_event(s, ST_HEADER, -1, SMFIC_HEADER, hbuf,
				nl + vl + 2, &rk) != 0)
				return (-1);
			if (rk_stops(rk))
				goto stopped;
		}
	}
	if (!(s->proto & SMFIP_NOEOH)) {
		if (sess_event(s, ST_EOH, SMFIM_EOH, SMFIC_EOH, NULL, 0, &rk) !=
		    0)
			return (-1);
		if (rk_stops(rk))
			goto stopped;
	}
	if (!(s->proto & SMFIP_NOBODY)) {
		for (off = 0; off < opt.body_len; off += hl) {
			hl = opt.body_len - off;
			if (hl > MILTER_CHUNK_SIZE)
				hl = MILTER_CHUNK_SIZE;
			if (sess_event(s, ST_BODY, -1, SMFIC_BODY,
				body_text + off, hl, &rk) != 0)
				return (-1);
			if (rk == RK_SKIP)
				break;
			if (rk_stops(rk))
				goto stopped;
		}
	}
	return (sess_event(s, ST_EOM, SMFIM_EOM, SMFIC_BODYEOB, NULL, 0, &rk));
stopped:
	/* rejected: the MTA aborts the transaction; accepted: nothing more */
	if (rk == RK_REJECT || rk == RK_TEMPFAIL) {
		s->ts->aborts++;
		return (sess_event(s, ST_ABORT, -1, SMFIC_ABORT, NULL, 0, &rk));
	}
	return (0);
}

/* sess_quit - QUIT, then the filter must close without a word */
static int
sess_quit(struct sess *s)
{
	enum rk rk;
	ssize_t n;
	char c;

	if (sess_event(s, ST_QUIT, -1, SMFIC_QUIT, NULL, 0, &rk) != 0)
		return (-1);
	if (s->ilen > s->ipos)
		return (sess_fail(s,
		    "%zu unexpected bytes before QUIT "
		    "(a reply where none was due?)",
		    s->ilen - s->ipos));
	for (;;) {
		n = read(s->fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return (0);
		if (n > 0)
			return (sess_fail(s,
			    "data after QUIT (a reply where "
			    "none was due?): first byte 0x%02x",
			    (unsigned char)c));
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (sess_fail(s,
			    "the filter did not close the "
			    "connection within %u s of QUIT",
			    opt.timeout_secs));
		if (errno == ECONNRESET)
			return (0);
		return (sess_fail(s, "read after QUIT: %s", strerror(errno)));
	}
}

static int
sess_run(struct sess *s)
{
	const struct spec *sp = s->sp;
	struct mw_buf a = {NULL, 0, 0};
	enum rk rk;
	uint16_t port;
	size_t i, accepted = 0;
	bool msg_live = true, ok;
	int rc = -1;

	s->stage = ST_OPTNEG;
	if (sess_connect(s) != 0 || sess_optneg(s) != 0)
		goto out;
	if (!(s->proto & SMFIP_NOCONNECT)) {
		mw_str(&a, sp->client_name);
		mw_put(&a, "4", 1);
		port = htons((uint16_t)atoi(sp->client_port));
		mw_put(&a, &port, 2);
		mw_str(&a, sp->client_ip);
		if (sess_event(s, ST_CONNECT, SMFIM_CONNECT, SMFIC_CONNECT, a.p,
			a.len, &rk) != 0)
			goto out;
		if (rk_stops(rk))
			goto quit;
	}
	/* EHLO, and after STARTTLS EHLO again, with the TLS macros. */
	for (i = 0; i < (sp->tls ? 2u : 1u); i++) {
		s->tls_active = i == 1;
		if ((s->proto & SMFIP_NOHELO) != 0)
			continue;
		if (sess_event(s, ST_HELO, SMFIM_HELO, SMFIC_HELO, sp->helo,
			strlen(sp->helo) + 1, &rk) != 0)
			goto out;
		if (rk_stops(rk))
			goto quit;
	}
	if (!(s->proto & SMFIP_NOMAIL)) {
		a.len = 0;
		mw_str(&a, sp->sender);
		mw_str(&a, "SIZE=2048");
		if (sess_event(s, ST_MAIL, SMFIM_ENVFROM, SMFIC_MAIL, a.p,
			a.len, &rk) != 0)
			goto out;
		if (rk_stops(rk))
			goto quit;
	}
	for (i = 0; i < sp->nrcpt; i++) {
		const struct rcpt_spec *r = &sp->rcpt[i];

		s->ts->rcpt_total++;
		s->rcpt_no = i;
		s->cur_rcpt = r;
		if (!msg_live || (s->proto & SMFIP_NORCPT) != 0 ||
		    (r->mta_rej && !(s->proto & SMFIP_RCPT_REJ))) {
			if (r->mta_rej)
				s->ts->rcpt_unseen++;
			else
				accepted++;
			continue;
		}
		if (r->mta_rej)
			s->ts->rcpt_mta_rej++;
		if (sess_event(s, ST_RCPT, SMFIM_ENVRCPT, SMFIC_RCPT, r->addr,
			strlen(r->addr) + 1, &rk) != 0)
			goto out;
		if (rk != RK_NONE)
			s->ts->rcpt_answered++;
		ok = rk != RK_REJECT && rk != RK_TEMPFAIL;
		if (!ok)
			s->ts->rcpt_filter_rej++;
		if (ok && !r->mta_rej) {
			accepted++;
			s->qid_known = true; /* queue file open now */
		}
		if (rk == RK_ACCEPT || rk == RK_DISCARD)
			msg_live = false; /* no more for this message */
	}
	s->cur_rcpt = NULL;
	s->qid_known = true;
	if (opt.hold > 0)
		hold_arrive(s, false);
	if (accepted == 0) {
		/* DATA gets 554 from the MTA; RSET or QUIT aborts. */
		if (msg_live) {
			s->ts->aborts++;
			if (sess_event(s, ST_ABORT, -1, SMFIC_ABORT, NULL, 0,
				&rk) != 0)
				goto out;
		}
	} else if (msg_live && sess_message(s) != 0)
		goto out;
quit:
	rc = sess_quit(s);
out:
	free(a.p);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return (rc);
}

/* ---------------------------------------------------------- workers -- */

struct pass {
	unsigned long base, n;
	atomic_ulong next;
};

struct worker {
	pthread_t tid;
	struct pass *pass;
	struct tstats ts;
	struct sess s; /* buffers kept between sessions */
};

static void
report_error(const char *text)
{
	unsigned long n = atomic_fetch_add(&n_errors, 1) + 1;

	pthread_mutex_lock(&err_lock);
	if (n <= MLOAD_ERRORS_SHOWN)
		fprintf(stderr, "mload: error: %s\n", text);
	else if (n == MLOAD_ERRORS_SHOWN + 1)
		fprintf(stderr, "mload: more errors; not shown\n");
	pthread_mutex_unlock(&err_lock);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct sess *s = &w->s;
	struct spec sp;
	unsigned long i;
	uint64_t t0;

	for (;;) {
		i = atomic_fetch_add(&w->pass->next, 1);
		if (i >= w->pass->n)
			break;
		spec_make(&sp, w->pass->base + i);
		memset(s->lists, 0, sizeof(s->lists));
		memset(s->has_list, 0, sizeof(s->has_list));
		s->ts = &w->ts;
		s->sp = &sp;
		s->fd = -1;
		s->out.len = 0;
		s->ipos = s->ilen = 0;
		s->err[0] = '\0';
		s->tls_active = s->qid_known = s->held = false;
		s->connect_failed = false;
		s->cur_rcpt = NULL;
		s->rcpt_no = 0;
		t0 = now_ns();
		if (sess_run(s) == 0) {
			w->ts.ok++;
			samples_add(&w->ts.lat[ST_SESSION], now_ns() - t0);
			atomic_store(&n_connect_fail_run, 0);
		} else {
			w->ts.failed++;
			report_error(s->err);
			if (s->connect_failed &&
			    atomic_fetch_add(&n_connect_fail_run, 1) + 1 ==
				MLOAD_GIVE_UP) {
				/* The filter is not there: say so once. */
				atomic_store(&gave_up, true);
				atomic_store(&w->pass->next, w->pass->n);
				fprintf(stderr,
				    "mload: %d sessions in a row "
				    "could not connect to %s; giving up\n",
				    MLOAD_GIVE_UP, opt.socket);
			}
		}
		if (opt.hold > 0 && !s->held)
			hold_arrive(s, true);
	}
	return (NULL);
}

/* run_pass - n sessions from index base on C threads; seconds taken */
static double
run_pass(
    unsigned long base, unsigned long n, unsigned conc, struct tstats *total)
{
	struct pass pass;
	struct worker *w;
	pthread_attr_t attr;
	uint64_t t0, t1;
	unsigned i, started = 0;

	pass.base = base;
	pass.n = n;
	atomic_init(&pass.next, 0);
	if (conc > n)
		conc = (unsigned)n;
	if ((w = calloc(conc, sizeof(*w))) == NULL) {
		fprintf(stderr, "mload: out of memory\n");
		exit(2);
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	t0 = now_ns();
	for (i = 0; i < conc; i++) {
		w[i].pass = &pass;
		w[i].s.fd = -1;
		if (pthread_create(&w[i].tid, &attr, worker_main, &w[i]) != 0) {
			fprintf(stderr,
			    "mload: pthread_create: thread %u of "
			    "%u: %s\n",
			    i + 1, conc, strerror(errno));
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	if (started < conc && opt.hold > 0) {
		/* The missing threads' sessions will never arrive. */
		pthread_mutex_lock(&hold.lock);
		hold.failed += conc - started;
		pthread_mutex_unlock(&hold.lock);
		atomic_fetch_add(&n_errors, conc - started);
	}
	if (opt.hold > 0 && total != NULL) {
		/* wait for every session to be held (or failed) */
		sigset_t set;
		struct timespec ts = {(time_t)opt.hold_secs, 0};
		unsigned held;
		int sig;
		uint64_t dl = now_ns() + 60ULL * 1000000000ULL;

		pthread_mutex_lock(&hold.lock);
		while (hold.held + hold.failed < conc && now_ns() < dl) {
			struct timespec abst;

			clock_gettime(CLOCK_REALTIME, &abst);
			abst.tv_sec += 1;
			pthread_cond_timedwait(&hold.cond, &hold.lock, &abst);
		}
		held = hold.held;
		pthread_mutex_unlock(&hold.lock);
		printf(
		    "mload: holding %u sessions mid-transaction (%u "
		    "failed); pid %ld; SIGUSR1 releases them (else in %u s)\n",
		    held, conc - held, (long)getpid(), opt.hold_secs);
		fflush(stdout);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sig = sigtimedwait(&set, NULL, &ts);
		(void)sig;
		pthread_mutex_lock(&hold.lock);
		hold.released = true;
		pthread_cond_broadcast(&hold.cond);
		pthread_mutex_unlock(&hold.lock);
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	t1 = now_ns();
	for (i = 0; i < started; i++) {
		struct tstats *ts = &w[i].ts;

		if (total != NULL)
			tstats_merge(total, ts);
		else {
			size_t j;

			for (j = 0; j < ST_N; j++)
				free(ts->lat[j].v);
		}
		free(w[i].s.out.p);
		free(w[i].s.in);
	}
	free(w);
	return ((double)(t1 - t0) / 1e9);
}

/* ----------------------------------------------------------- report -- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

static double
pct_ms(const struct samples *s, double q)
{
	size_t k;

	if (s->n == 0)
		return (0);
	k = (size_t)(q * (double)s->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return ((double)s->v[k - 1] / 1e6);
}

static void
flags_text(char *buf, size_t len, uint32_t proto, const uint32_t *tab,
    const char *none)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < ST_N; i++)
		if (tab[i] != 0 && (proto & tab[i]) != 0 && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off ? " " : "", stage_name[i]);
	if (off == 0)
		snprintf(buf, len, "%s", none);
}

static void
report(struct tstats *t, double secs)
{
	char skip[128], nr[128];
	size_t i;
	double rate = secs > 0 ? (double)t->ok / secs : 0;

	for (i = 0; i < ST_N; i++)
		if (t->lat[i].n > 0)
			qsort(t->lat[i].v, t->lat[i].n, sizeof(uint64_t),
			    cmp_u64);
	if (!opt.quiet) {
		if (neg_seen) {
			flags_text(
			    skip, sizeof(skip), neg_proto, stage_no, "none");
			flags_text(nr, sizeof(nr), neg_proto, stage_nr, "none");
			printf("negotiated: version %" PRIu32
			       ", actions 0x%" PRIx32 ", protocol 0x%" PRIx32
			       "%s%s\n",
			    neg_version, neg_actions, neg_proto,
			    neg_proto & SMFIP_RCPT_REJ ? " (RCPT_REJ)" : "",
			    neg_proto & SMFIP_SKIP ? " (SKIP)" : "");
			printf(
			    "  stages skipped: %s; no reply: %s\n", skip, nr);
			for (i = 0; i < MLOAD_MSTAGES; i++)
				if (neg_has_list[i])
					printf("  macros asked for at %s: %s\n",
					    i == SMFIM_CONNECT   ? "connect"
					    : i == SMFIM_HELO    ? "helo"
					    : i == SMFIM_ENVFROM ? "mail"
					    : i == SMFIM_ENVRCPT ? "rcpt"
					    : i == SMFIM_DATA    ? "data"
					    : i == SMFIM_EOM     ? "eom"
								 : "eoh",
					    neg_lists[i]);
			if (atomic_load(&neg_differs) > 0)
				printf("  (%lu sessions negotiated something "
				       "else)\n",
				    atomic_load(&neg_differs));
		}
		printf("sessions: %" PRIu64 " ok, %" PRIu64 " failed in %.3f "
		       "s: %.1f sessions/s\n",
		    t->ok, t->failed, secs, rate);
		printf("latency (ms)      events   noreply      p50      p90"
		       "      p99      max\n");
		for (i = 0; i < ST_N; i++) {
			const struct samples *s = &t->lat[i];

			if (t->events[i] == 0 && s->n == 0)
				continue;
			printf("  %-12s %9" PRIu64 " %9" PRIu64, stage_name[i],
			    i == ST_SESSION ? t->ok : t->events[i],
			    t->noreply[i]);
			if (s->n > 0)
				printf(" %8.3f %8.3f %8.3f %8.3f\n",
				    pct_ms(s, 0.50), pct_ms(s, 0.90),
				    pct_ms(s, 0.99), pct_ms(s, 1.0));
			else
				printf(
				    "        -        -        -        -\n");
		}
		printf("replies:");
		for (i = 0; i < RK_N; i++)
			printf(" %s %" PRIu64 "%s", rk_name[i], t->replies[i],
			    i + 1 < RK_N ? "," : "");
		printf(" (%" PRIu64 " with reply text)\n", t->replycode);
		printf("actions at eom:");
		for (i = 0; i < MOD_N; i++)
			if (t->mods[i] > 0 || i <= MOD_CHGHEADER)
				printf(" %s %" PRIu64, mod_name[i], t->mods[i]);
		printf("\n");
		printf(
		    "recipients: %" PRIu64 "; sent %" PRIu64 " (%" PRIu64
		    " rejected by the MTA, SMFIP_RCPT_REJ), answered %" PRIu64
		    ", rejected/tempfailed by the filter %" PRIu64 ", not sent "
		    "(MTA-rejected, no SMFIP_RCPT_REJ) %" PRIu64 "; aborted "
		    "transactions %" PRIu64 "\n",
		    t->rcpt_total, t->events[ST_RCPT], t->rcpt_mta_rej,
		    t->rcpt_answered, t->rcpt_filter_rej, t->rcpt_unseen,
		    t->aborts);
	}
	printf("result sessions=%" PRIu64 " errors=%lu seconds=%.3f "
	       "rate=%.1f p50_ms=%.3f p99_ms=%.3f rcpt=%" PRIu64
	       " rcpt_sent=%" PRIu64 " rcpt_answered=%" PRIu64
	       " rcpt_noreply=%" PRIu64 "\n",
	    t->ok, atomic_load(&n_errors), secs, rate,
	    pct_ms(&t->lat[ST_SESSION], 0.5), pct_ms(&t->lat[ST_SESSION], 0.99),
	    t->rcpt_total, t->events[ST_RCPT], t->rcpt_answered,
	    t->noreply[ST_RCPT]);
}

/* ------------------------------------------------------------- main -- */

/* parse_socket - the spec as the daemon reads it (lib/sockspec.c) */
static int
parse_socket(const char *spec)
{
	struct rd_sockspec ss;
	char why[600];

	if (rd_sockspec_parse(spec, &ss, why, sizeof(why)) != 0 ||
	    rd_sockspec_addr(&ss, &opt.addr, &opt.addrlen, why, sizeof(why)) !=
		0) {
		fprintf(stderr, "mload: -s %s\n", why);
		return (-1);
	}
	return (0);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mload -s SOCKET [-n sessions] [-c concurrency] [-m "
	    "mix|plain]\n"
	    "             [-w warmup] [-t timeout] [-b body_bytes] [-S seed] "
	    "[-q]\n"
	    "       mload -s SOCKET -H sessions [-T seconds]\n"
	    "  -s  unix:/path, local:/path, inet:port@host, inet6:port@host\n"
	    "  -n  sessions to measure (default 1000)\n"
	    "  -c  concurrent sessions: threads, one connection each (10)\n"
	    "  -m  mix: the realistic mix (default); plain: one local rcpt,\n"
	    "      no TLS, no AUTH; gate: open-relay traffic the MTA accepts\n"
	    "  -w  warmup sessions first, not measured (0)\n"
	    "  -t  seconds to wait for any reply before it is an error (10)\n"
	    "  -b  body bytes (1024)\n"
	    "  -H  hold this many sessions open after RCPT, print a line,\n"
	    "      wait for SIGUSR1 (or -T seconds, 120), then finish them\n"
	    "  -q  print only the result line\n"
	    "Exit status: 0 when every session passed the protocol checks,\n"
	    "1 when any failed, 2 on usage errors.\n");
}

static unsigned long
num(const char *s, const char *what, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *s == '\0' || v < min || v > max) {
		fprintf(stderr,
		    "mload: %s: \"%s\" is not a number from %lu "
		    "to %lu\n",
		    what, s, min, max);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	struct tstats total;
	sigset_t set;
	double secs;
	size_t i;
	int c;

	mw_prog = "mload";
	while ((c = getopt(argc, argv, "s:n:c:m:w:t:b:S:H:T:qh")) != -1) {
		switch (c) {
		case 's':
			opt.socket = optarg;
			break;
		case 'n':
			opt.sessions = num(optarg, "-n", 1, 100000000);
			break;
		case 'c':
			opt.concurrency = (unsigned)num(optarg, "-c", 1, 10000);
			break;
		case 'm':
			if (strcmp(optarg, "mix") == 0)
				opt.mix = MIX_REAL;
			else if (strcmp(optarg, "plain") == 0)
				opt.mix = MIX_PLAIN;
			else if (strcmp(optarg, "gate") == 0)
				opt.mix = MIX_GATE;
			else {
				fprintf(stderr, "mload: -m: mix, plain or "
						"gate\n");
				return (2);
			}
			break;
		case 'w':
			opt.warmup = num(optarg, "-w", 0, 100000000);
			break;
		case 't':
			opt.timeout_secs = (unsigned)num(optarg, "-t", 1, 3600);
			break;
		case 'b':
			opt.body_len = num(optarg, "-b", 0, 64 * 1024 * 1024);
			break;
		case 'S':
			opt.seed = num(optarg, "-S", 0, ~0UL);
			break;
		case 'H':
			opt.hold = (unsigned)num(optarg, "-H", 1, 10000);
			break;
		case 'T':
			opt.hold_secs = (unsigned)num(optarg, "-T", 0, 86400);
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc || opt.socket == NULL) {
		usage(stderr);
		return (2);
	}
	if (parse_socket(opt.socket) != 0)
		return (2);
	for (i = 0; i < MLOAD_MSTAGES; i++)
		if (default_lists[i] != NULL)
			mlist_parse(&default_mlist[i], default_lists[i]);
	if ((body_text = malloc(opt.body_len + 1)) == NULL)
		return (2);
	for (i = 0; i < opt.body_len; i++)
		body_text[i] = i % 72 == 70   ? '\r'
			       : i % 72 == 71 ? '\n'
					      : (char)('a' + i % 26);
	/* SIGUSR1 is taken by sigtimedwait in main only. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.hold > 0) {
		opt.sessions = opt.hold;
		opt.concurrency = opt.hold;
		opt.warmup = 0;
	}
	if (!opt.quiet)
		printf("mload: %s, mix %s, %lu sessions (+%lu warmup), "
		       "concurrency %u%s\n",
		    opt.socket,
		    opt.mix == MIX_PLAIN  ? "plain"
		    : opt.mix == MIX_GATE ? "gate"
					  : "mix",
		    opt.sessions, opt.warmup, opt.concurrency,
		    opt.hold ? ", held open after RCPT" : "");
	fflush(stdout);
	if (opt.warmup > 0)
		run_pass(1000000000UL, opt.warmup, opt.concurrency, NULL);
	memset(&total, 0, sizeof(total));
	secs = run_pass(0, opt.sessions, opt.concurrency, &total);
	report(&total, secs);
	for (i = 0; i < ST_N; i++)
		free(total.lat[i].v);
	free(body_text);
	return (atomic_load(&n_errors) == 0 ? 0 : 1);
}

/*
 * logline.c - the MTA's log lines (logline.h): the envelope by hand, the
 * message by a table of PCRE2 patterns with named groups.
 *
 * Owns the patterns, one row per kind of line and MTA, from real lines:
 * Postfix 3.7 (its maillog_file and syslog), Sendmail 8.17, Exim 4.96,
 * and the field reports (../seeds). Named groups fill struct rd_logrec:
 * qid rcpt sender cname cip cport helo rhost rip rport status mark code
 * dsn text cmd mech user. Every match runs under a match and a depth
 * limit (a hostile line cannot hang the follower); a limit hit is no
 * match.
 * Threads: the table is compiled once (pthread_once), then read-only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "relaydiag/err.h"
#include "relaydiag/logline.h"
#include "relaydiag/text.h"

#define LL_MATCH_LIMIT 200000
#define LL_DEPTH_LIMIT 2000

/* Shared pieces of the patterns. */
#define LL_DSN "[245]\\.\\d{1,3}\\.\\d{1,3}"
/*
 * Exim's "name (helo) [ip]:port". The HELO is greedy: under
 * helo_accept_junk_hosts it may hold ") [ip]:port F=<...> rejected RCPT
 * <...>", and the client is the last "(...) [ip]" the rest of the line
 * matches after, not one the client wrote.
 */
#define LL_HOST_IP                                                             \
	"(?:(?<cname>[^\\s(\\[]+) ?)?(?:\\((?<helo>.*)\\) ?)?"                 \
	"\\[(?:IPv6:)?(?<cip>[^\\]]+)\\](?::(?<cport>\\d+))?"
/* Exim's " I=[ip]:port" (log_selector +incoming_interface): the listener */
#define LL_EXIM_IFACE "(?: I=\\[(?<dip>[^\\]]+)\\]:(?<dport>\\d+))?"
#define LL_SM_RELAY                                                            \
	"relay=(?:(?<cname>[^\\s\\[,]+) )?\\[(?:IPv6:)?(?<cip>[^\\]]*)\\]"     \
	"(?: \\(may be forged\\))?"

static const struct ll_row {
	unsigned format;
	enum rd_logkind kind;
	const char *pattern;
} ll_rows[] = {
    /* Postfix smtp/lmtp: a remote server refused (said: 4xx/5xx) */
    {RD_LOGFMT_POSTFIX, RD_LOG_DELIVERY,
	"^(?<qid>[0-9A-Za-z]+): to=<(?<rcpt>[^>]*)>,(?: orig_to=<[^>]*>,)? "
	"relay=(?<rhost>[^\\[\\],]*)\\[(?<rip>[^\\]]*)\\](?::(?<rport>\\d+))?,"
	".*? dsn=(?<dsn>" LL_DSN "), status=(?<status>deferred|bounced) "
	"\\(host [^\\[]*\\[[^\\]]*\\] said: (?<code>[245]\\d\\d)[ -]"
	"(?:" LL_DSN " )?(?<text>.*?)"
	"(?: \\(in reply to (?<cmd>[A-Za-z ]+?) command\\))?\\)$"},
    /* Postfix smtpd: a failed AUTH */
    {RD_LOGFMT_POSTFIX, RD_LOG_AUTH_FAIL,
	"^warning: (?<cname>[^\\[\\s]*)\\[(?<cip>[^\\]]*)\\]"
	"(?::(?<cport>\\d+))?: SASL (?<mech>[A-Za-z0-9_-]+) authentication "
	"failed: (?<text>.*?)(?:, sasl_username=(?:\\(unavailable\\)|"
	"(?<user>.*)))?$"},
    /* Postfix smtpd: a refused recipient (no milter needed) */
    {RD_LOGFMT_POSTFIX, RD_LOG_RCPT_REJECT,
	"^(?<qid>NOQUEUE|[0-9A-Za-z]+): reject: RCPT from "
	"(?<cname>[^\\[\\s]*)\\[(?<cip>[^\\]]*)\\](?::(?<cport>\\d+))?: "
	"(?<code>[45]\\d\\d) (?:(?<dsn>" LL_DSN ") )?(?<text>.*?); "
	"from=<(?<sender>[^>]*)> to=<(?<rcpt>[^>]*)> proto=\\S+ "
	"helo=<(?<helo>.*)>$"},
    /* Postfix: the SASL service cannot be reached (3.7: "Connect to
       Dovecot auth socket '/path' failed: ...", older "Connect to
       private/auth failed: ..."; Cyrus's saslauthd), or offers nothing */
    {RD_LOGFMT_POSTFIX, RD_LOG_AUTH_DOWN,
	"^(?:warning: SASL: (?<text>Connect to .+ failed: .*)|"
	"warning: SASL authentication failure: "
	"(?<text>cannot connect to saslauthd server.*)|"
	"fatal: (?<text>no SASL authentication mechanisms))$"},
    /* Sendmail: its own check_rcpt refusal ("Relaying denied") */
    {RD_LOGFMT_SENDMAIL, RD_LOG_RCPT_REJECT,
	"^(?:(?<qid>[0-9A-Za-z]+): )?ruleset=check_rcpt, "
	"arg1=<?(?<rcpt>[^>,]*)>?, " LL_SM_RELAY ", "
	"reject=(?<code>[45]\\d\\d) (?:(?<dsn>" LL_DSN ") )?(?<text>.*)$"},
    /* Sendmail: a failed AUTH */
    {RD_LOGFMT_SENDMAIL, RD_LOG_AUTH_FAIL,
	"^(?:(?<qid>[0-9A-Za-z]+): )?AUTH failure \\((?<mech>[^)]*)\\): "
	"(?<text>.*?)(?:, user=(?<user>[^,]*))?, " LL_SM_RELAY ".*$"},
    /* Exim: a remote server refused (** bounced, == deferred) */
    {RD_LOGFMT_EXIM, RD_LOG_DELIVERY,
	"^(?<qid>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) "
	"(?<mark>\\*\\*|==) (?<rcpt>\\S+)(?: <[^>]*>)? .*?"
	"H=(?<rhost>[^\\s\\[]+) \\[(?<rip>[^\\]]+)\\](?::(?<rport>\\d+))?"
	".*?: SMTP error from remote mail server after (?:pipelined )?"
	"(?<cmd>RCPT TO|MAIL FROM|end of data|DATA)(?::<[^>]*>)?[^:]*: "
	"(?<code>[245]\\d\\d)[ -](?:(?<dsn>" LL_DSN ") )?(?<text>.*)$"},
    /* Exim: a refused recipient ("relay not permitted", ...) */
    {RD_LOGFMT_EXIM, RD_LOG_RCPT_REJECT,
	"^H=" LL_HOST_IP LL_EXIM_IFACE "(?: [A-Z]+=\\S+)*? "
	"(?:F=<(?<sender>[^>]*)> )?rejected RCPT <(?<rcpt>[^>]*)>: "
	"(?<text>.*)$"},
    /* Exim: a sender verification callout that failed */
    {RD_LOGFMT_EXIM, RD_LOG_VERIFY_FAIL,
	"^H=" LL_HOST_IP LL_EXIM_IFACE
	"(?: [A-Z]+=\\S+)*? sender verify (?:fail|defer) "
	"for <(?<sender>[^>]*)>: (?<text>.*)$"},
    /* Exim: a failed AUTH */
    {RD_LOGFMT_EXIM, RD_LOG_AUTH_FAIL,
	"^(?<mech>\\S+) authenticator failed for " LL_HOST_IP LL_EXIM_IFACE
	"(?: U=\\S+)?: "
	"(?<code>\\d{3}) (?<text>.*?)(?: \\(set_id=(?<user>[^)]*)\\))?$"},
};

#define LL_NROWS (sizeof(ll_rows) / sizeof(ll_rows[0]))

/* A named group and where it goes. */
static const struct {
	const char *name;
	size_t off, size;
} ll_fields[] = {
#define LLF(n, f)                                                              \
	{                                                                      \
		n, offsetof(struct rd_logrec, f),                              \
		    sizeof(((struct rd_logrec *)0)->f)                         \
	}
    LLF("qid", queue_id),
    LLF("rcpt", rcpt),
    LLF("sender", sender),
    LLF("cname", client_name),
    LLF("cip", client_ip),
    LLF("dip", daemon_ip),
    LLF("helo", helo),
    LLF("rhost", relay_host),
    LLF("rip", relay_ip),
    LLF("status", status),
    LLF("code", code),
    LLF("dsn", dsn),
    LLF("text", text),
    LLF("mech", mech),
    LLF("user", user),
#undef LLF
};
#define LL_NFIELDS (sizeof(ll_fields) / sizeof(ll_fields[0]))

/*
 * The words of a line that may be about a refusal or a login, whatever
 * the wording: what relaydiag -L counts and shows when no row knows it.
 * A milter's refusal (Postfix's "milter-reject", Sendmail's "Milter:" and
 * "milter=") is the milter's to report, not the log's.
 */
#define LL_CANDIDATE                                                           \
	"(?i)^(?!.*milter).*?(?:reject|denied|not permitted|authentication "   \
	"fail|"                                                                \
	"authenticator failed|said: [45]\\d\\d|SMTP error from remote|"        \
	"SASL: |saslauthd|AUTH failure)"

static pthread_once_t ll_once = PTHREAD_ONCE_INIT;
static pcre2_code *ll_code[LL_NROWS], *ll_candidate;
static pcre2_match_context *ll_mctx;

static void
ll_compile(void)
{
	PCRE2_SIZE off;
	size_t i;
	int rc;

	if ((ll_mctx = pcre2_match_context_create(NULL)) == NULL)
		rd_panic("logline: out of memory");
	pcre2_set_match_limit(ll_mctx, LL_MATCH_LIMIT);
	pcre2_set_depth_limit(ll_mctx, LL_DEPTH_LIMIT);
	for (i = 0; i < LL_NROWS; i++)
		if ((ll_code[i] = pcre2_compile((PCRE2_SPTR)ll_rows[i].pattern,
			 PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES, &rc, &off,
			 NULL)) == NULL)
			rd_panic("logline: pattern %zu does not compile at %zu "
				 "(%d)",
			    i, (size_t)off, rc);
	if ((ll_candidate = pcre2_compile((PCRE2_SPTR)LL_CANDIDATE,
		 PCRE2_ZERO_TERMINATED, 0, &rc, &off, NULL)) == NULL)
		rd_panic("logline: the candidate pattern does not compile");
}

bool
rd_logline_candidate(const char *line, size_t len)
{
	pcre2_match_data *md;
	int rc;

	(void)pthread_once(&ll_once, ll_compile);
	if ((md = pcre2_match_data_create_from_pattern(ll_candidate, NULL)) ==
	    NULL)
		return (false);
	rc =
	    pcre2_match(ll_candidate, (PCRE2_SPTR)line, len, 0, 0, md, ll_mctx);
	pcre2_match_data_free(md);
	return (rc >= 0);
}

static const char *const ll_months[] = {"Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
ll_digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return (false);
	return (true);
}

static int
ll_num(const char *p, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return (v);
}

/*
 * ll_time - the timestamp at the start of p (len bytes): its length, and
 * *ts; 0 when there is none. *exim: Exim's "YYYY-MM-DD HH:MM:SS".
 */
static size_t
ll_time(const char *p, size_t len, time_t now, time_t *ts, bool *exim)
{
	struct tm tm, nowtm;
	size_t n;
	int i, sign;

	memset(&tm, 0, sizeof(tm));
	*exim = false;
	/* "Dec  7 03:14:47" (syslog, maillog_file) */
	if (len >= 15 && p[3] == ' ' && p[6] == ' ' && p[9] == ':' &&
	    p[12] == ':') {
		for (i = 0; i < 12; i++)
			if (memcmp(p, ll_months[i], 3) == 0)
				break;
		if (i == 12 || !ll_digits(p + 7, 2) || !ll_digits(p + 10, 2) ||
		    !ll_digits(p + 13, 2) ||
		    !(ll_digits(p + 4, 2) ||
			(p[4] == ' ' && ll_digits(p + 5, 1))))
			return (0);
		gmtime_r(&now, &nowtm);
		tm.tm_mon = i;
		tm.tm_mday = p[4] == ' ' ? ll_num(p + 5, 1) : ll_num(p + 4, 2);
		tm.tm_hour = ll_num(p + 7, 2);
		tm.tm_min = ll_num(p + 10, 2);
		tm.tm_sec = ll_num(p + 13, 2);
		/* No year: this one, or last year's December in January. */
		tm.tm_year = nowtm.tm_year - (tm.tm_mon > nowtm.tm_mon + 1);
		*ts = timegm(&tm);
		return (15);
	}
	/* "2026-12-07T03:14:47[.frac](Z|+hh:mm)" or "2026-12-07 03:14:47" */
	if (len < 19 || !ll_digits(p, 4) || p[4] != '-' ||
	    !ll_digits(p + 5, 2) || p[7] != '-' || !ll_digits(p + 8, 2) ||
	    (p[10] != 'T' && p[10] != ' ') || !ll_digits(p + 11, 2) ||
	    p[13] != ':' || !ll_digits(p + 14, 2) || p[16] != ':' ||
	    !ll_digits(p + 17, 2))
		return (0);
	tm.tm_year = ll_num(p, 4) - 1900;
	tm.tm_mon = ll_num(p + 5, 2) - 1;
	tm.tm_mday = ll_num(p + 8, 2);
	tm.tm_hour = ll_num(p + 11, 2);
	tm.tm_min = ll_num(p + 14, 2);
	tm.tm_sec = ll_num(p + 17, 2);
	*ts = timegm(&tm);
	*exim = p[10] == ' ';
	n = 19;
	if (n < len && p[n] == '.')
		for (n++; n < len && p[n] >= '0' && p[n] <= '9'; n++)
			;
	if (n < len && p[n] == 'Z')
		n++;
	else if (n + 6 <= len && (p[n] == '+' || p[n] == '-') &&
		 ll_digits(p + n + 1, 2) && p[n + 3] == ':' &&
		 ll_digits(p + n + 4, 2)) {
		sign = p[n] == '-' ? -1 : 1;
		*ts -= sign * (ll_num(p + n + 1, 2) * 3600 +
				  ll_num(p + n + 4, 2) * 60);
		n += 6;
	} else if (*exim && n + 6 <= len && p[n] == ' ' &&
		   (p[n + 1] == '+' || p[n + 1] == '-') &&
		   ll_digits(p + n + 2, 4)) {
		/* Exim's log_timezone: " +0100" */
		sign = p[n + 1] == '-' ? -1 : 1;
		*ts -= sign * (ll_num(p + n + 2, 2) * 3600 +
				  ll_num(p + n + 4, 2) * 60);
		n += 6;
	}
	return (n);
}

/* ll_format_of - the MTA a syslog program name belongs to; 0: none */
static unsigned
ll_format_of(const char *prog)
{
	if (strncmp(prog, "postfix", 7) == 0)
		return (RD_LOGFMT_POSTFIX);
	if (strcmp(prog, "sendmail") == 0 || strncmp(prog, "sm-", 3) == 0)
		return (RD_LOGFMT_SENDMAIL);
	if (strncmp(prog, "exim", 4) == 0)
		return (RD_LOGFMT_EXIM);
	return (0);
}

/* ll_copy - n bytes of a group into a field; cut (or NUL inside) marked */
static void
ll_copy(struct rd_logrec *r, char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size) {
		n = size - 1;
		r->cut = true;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	if (strlen(dst) != n)
		r->cut = true;
}

/* ll_group - the bytes of named group name in the match, or NULL */
static const char *
ll_group(pcre2_code *code, pcre2_match_data *md, const char *subject,
    const char *name, size_t *n)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t count = pcre2_get_ovector_count(md);
	PCRE2_SPTR first, last, entry;
	int size, num;

	/* DUPNAMES: the first of the same name that matched */
	if ((size = pcre2_substring_nametable_scan(
		 code, (PCRE2_SPTR)name, &first, &last)) <= 0)
		return (NULL);
	for (entry = first; entry <= last; entry += size) {
		num = (entry[0] << 8) | entry[1];
		if ((uint32_t)num < count && ov[2 * num] != PCRE2_UNSET) {
			*n = ov[2 * num + 1] - ov[2 * num];
			return (subject + ov[2 * num]);
		}
	}
	return (NULL);
}

static unsigned
ll_port(const char *p, size_t n)
{
	if (n == 0 || n > 5 || !ll_digits(p, n) || ll_num(p, n) > 65535)
		return (0);
	return ((unsigned)ll_num(p, n));
}

/* ll_fill - the groups of a match into r */
static void
ll_fill(struct rd_logrec *r, pcre2_code *code, pcre2_match_data *md,
    const char *msg)
{
	const char *v;
	size_t i, n;

	for (i = 0; i < LL_NFIELDS; i++)
		if ((v = ll_group(code, md, msg, ll_fields[i].name, &n)) !=
		    NULL)
			ll_copy(r, (char *)r + ll_fields[i].off,
			    ll_fields[i].size, v, n);
	if ((v = ll_group(code, md, msg, "cport", &n)) != NULL)
		r->client_port = ll_port(v, n);
	if ((v = ll_group(code, md, msg, "dport", &n)) != NULL)
		r->daemon_port = ll_port(v, n);
	if ((v = ll_group(code, md, msg, "rport", &n)) != NULL)
		r->relay_port = ll_port(v, n);
	if ((v = ll_group(code, md, msg, "cmd", &n)) != NULL)
		r->in_reply_to_rcpt =
		    n == 7 && strncasecmp(v, "RCPT TO", 7) == 0;
	if ((v = ll_group(code, md, msg, "mark", &n)) != NULL)
		(void)rd_strlcpy(r->status,
		    n == 2 && v[0] == '*' ? "bounced" : "deferred",
		    sizeof(r->status));
}

/*
 * ll_strip_addr - the reply text as the milter sees it: without the
 * "<addr>: " Postfix puts first, or the "<addr>... " Sendmail does
 */
static void
ll_strip_addr(char *text)
{
	char *end;

	if (text[0] != '<' || (end = strchr(text, '>')) == NULL)
		return;
	if (strncmp(end, ">: ", 3) == 0)
		end += 3;
	else if (strncmp(end, ">... ", 5) == 0)
		end += 5;
	else
		return;
	memmove(text, end, strlen(end) + 1);
}

enum rd_logkind
rd_logline_parse(const char *line, size_t len, unsigned formats, time_t now,
    struct rd_logrec *out)
{
	pcre2_match_data *md;
	const char *p = line, *msg = NULL, *colon, *sp;
	size_t n, plen, i;
	unsigned fmt = 0;
	bool exim;
	char buf[RD_LOGLINE_MAX + 1];

	memset(out, 0, sizeof(out[0]));
	pthread_once(&ll_once, ll_compile);
	if (len > RD_LOGLINE_MAX) {
		len = RD_LOGLINE_MAX;
		out->cut = true;
	}
	/* A C string of the line: a NUL inside ends the line there. */
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		out->cut = true;
	len = strlen(buf);
	p = buf;
	if ((n = ll_time(p, len, now, &out->ts, &exim)) == 0)
		return (RD_LOG_OTHER);
	p += n;
	while (*p == ' ')
		p++;
	/*
	 * "YYYY-MM-DD HH:MM:SS": Exim's own mainlog (syslog writes "Dec  7"
	 * or rsyslog's "2026-12-07T..."); "[pid] " may follow (+pid).
	 */
	if (exim) {
		if (*p == '[' && (sp = strchr(p, ']')) != NULL && sp[1] == ' ')
			p = sp + 2;
		msg = p;
		fmt = RD_LOGFMT_EXIM;
		(void)rd_strlcpy(out->prog, "exim", sizeof(out->prog));
	}
	if (msg == NULL) {
		/* "host prog[pid]: message" */
		if ((sp = strchr(p, ' ')) == NULL ||
		    (colon = strstr(sp + 1, ": ")) == NULL)
			return (RD_LOG_OTHER);
		plen = strcspn(sp + 1, "[: ");
		if (plen == 0 || plen >= sizeof(out->prog) ||
		    sp + 1 + plen > colon)
			return (RD_LOG_OTHER);
		memcpy(out->prog, sp + 1, plen);
		out->prog[plen] = '\0';
		fmt = ll_format_of(out->prog);
		msg = colon + 2;
		/* Exim through syslog may still carry its own date */
		if (fmt == RD_LOGFMT_EXIM &&
		    (n = ll_time(msg, strlen(msg), now, &out->ts, &exim)) > 0)
			for (msg += n; *msg == ' '; msg++)
				;
	}
	if ((fmt & formats) == 0)
		return (RD_LOG_OTHER);
	out->format = fmt;
	if ((md = pcre2_match_data_create(32, NULL)) == NULL)
		return (RD_LOG_OTHER);
	for (i = 0; i < LL_NROWS; i++) {
		if (ll_rows[i].format != fmt)
			continue;
		if (pcre2_match(ll_code[i], (PCRE2_SPTR)msg, strlen(msg), 0, 0,
			md, ll_mctx) < 0)
			continue;
		ll_fill(out, ll_code[i], md, msg);
		out->kind = ll_rows[i].kind;
		break;
	}
	pcre2_match_data_free(md);
	if (out->kind == RD_LOG_RCPT_REJECT || out->kind == RD_LOG_DELIVERY)
		ll_strip_addr(out->text);
	if (strcmp(out->queue_id, "NOQUEUE") == 0)
		out->queue_id[0] = '\0';
	return (out->kind);
}

const char *
rd_logkind_name(enum rd_logkind k)
{
	switch (k) {
	case RD_LOG_DELIVERY:
		return ("delivery");
	case RD_LOG_AUTH_FAIL:
		return ("auth");
	case RD_LOG_RCPT_REJECT:
		return ("rcpt");
	case RD_LOG_VERIFY_FAIL:
		return ("verify");
	case RD_LOG_AUTH_DOWN:
		return ("auth-down");
	case RD_LOG_OTHER:
		break;
	}
	return ("other");
}

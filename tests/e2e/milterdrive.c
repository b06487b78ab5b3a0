/*
 * milterdrive.c - the MTA side of one milter session, from a script, with
 * any bytes: for the hostile-input tests of bytes a real MTA will not pass
 * (NUL, CR, LF inside HELO, MAIL, RCPT, macros and header values; 64 KB
 * values; invalid UTF-8).
 *
 *     milterdrive -s unix:/run/rd/relaydiag.sock [-t seconds] < script
 *
 * The script has one command per line; words are separated by single
 * spaces, and each word is unescaped: \\ \s (space) \r \n \t \0 \xHH, and
 * \[N:HH] for N copies of the byte 0xHH (N <= 1048576). An empty word is
 * written \e. Lines starting with '#' and empty lines are ignored.
 *
 *     macro CMD NAME VALUE [NAME VALUE ...]   SMFIC_MACRO for command CMD
 *                                             (C H M R T L N E ...)
 *     connect HOSTNAME FAMILY [PORT ADDRESS]  FAMILY: 4 6 U L
 *     helo TEXT
 *     mail ARG [ARG ...]                      each argument NUL-terminated
 *     rcpt ARG [ARG ...]
 *     data | eoh | eom | abort | quit
 *     header NAME VALUE
 *     body TEXT
 *     raw CMD BYTES                           a packet as it is
 *     hangup                                  close the connection, exit 0
 *
 * Before the first command the driver negotiates: version 6, every
 * action, and the protocol flags SMFIP_RCPT_REJ, the skip flags (NOBODY
 * NOUNKNOWN NODATA NOEOH NOHDRS) and the no-reply flags (SMFIP_NR_*), as
 * Postfix offers them. A stage the filter declined is not sent (printed
 * "STAGE skipped"); after a stage the filter said it does not answer, no
 * reply is read ("STAGE noreply"). Every
 * reply is printed on its own line, "STAGE KIND [details]"; SMFIR_REPLYCODE
 * texts are split at CRLF, one "reply| LINE" each; header values of
 * insheader/addheader/chgheader are split at LF, one "header| LINE" each.
 * In what is printed, printable ASCII stays, a backslash is "\\" and
 * every other byte is "\xHH": a raw control byte sent by the filter shows
 * as "\x", its own escapes as "\\x".
 *
 * Exit status: 0 when the script ran and every reply was well-formed; 1
 * on a protocol error, a timeout or the filter closing the connection
 * early (printed as "error: ..."); 2 on a usage or script error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "milterwire.h"
#include "relaydiag/sockspec.h"

#define DRIVE_REPEAT_MAX (1024 * 1024)
#define DRIVE_REPLY_MAX (1024 * 1024)

static int drive_fd = -1;
static int drive_timeout_ms = 10000;
static uint32_t drive_proto; /* flags the filter answered */
static unsigned drive_lineno;

static void
drive_usage(void)
{
	fprintf(stderr, "usage: milterdrive -s SOCKET [-t seconds] < script\n"
			"  SOCKET: unix:/path, local:/path, inet:port@host\n");
	exit(2);
}

static void drive_script_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void drive_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
drive_script_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "milterdrive: script line %u: ", drive_lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
drive_error(const char *fmt, ...)
{
	va_list ap;

	printf("error: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* drive_unescape - one script word into b (appended, not terminated) */
static void
drive_unescape(struct mw_buf *b, const char *w)
{
	unsigned long n;
	char *end;
	int h, l;

	for (; *w != '\0'; w++) {
		if (*w != '\\') {
			mw_putc(b, (unsigned char)*w);
			continue;
		}
		switch (*++w) {
		case '\\':
			mw_putc(b, '\\');
			break;
		case 's':
			mw_putc(b, ' ');
			break;
		case 'r':
			mw_putc(b, '\r');
			break;
		case 'n':
			mw_putc(b, '\n');
			break;
		case 't':
			mw_putc(b, '\t');
			break;
		case '0':
			mw_putc(b, '\0');
			break;
		case 'e':
			break;
		case 'x':
			if ((h = hexval(w[1])) < 0 || (l = hexval(w[2])) < 0)
				drive_script_error("bad \\x escape");
			mw_putc(b, (unsigned char)(h << 4 | l));
			w += 2;
			break;
		case '[':
			n = strtoul(w + 1, &end, 10);
			if (*end != ':' || n > DRIVE_REPEAT_MAX ||
			    (h = hexval(end[1])) < 0 ||
			    (l = hexval(end[2])) < 0 || end[3] != ']')
				drive_script_error("bad \\[N:HH] escape");
			while (n-- > 0)
				mw_putc(b, (unsigned char)(h << 4 | l));
			w = end + 3;
			break;
		default:
			drive_script_error("unknown escape \\%c", *w);
		}
	}
}

/* drive_show - print n bytes unambiguously (see the header comment) */
static void
drive_show(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\\\", stdout);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			putchar(p[i]);
		else
			printf("\\x%02X", p[i]);
	}
}

/* drive_connect - the spec as the daemon reads it (lib/sockspec.c) */
static void
drive_connect(const char *spec)
{
	struct sockaddr_storage sa;
	struct rd_sockspec ss;
	socklen_t salen;
	char why[600];

	if (rd_sockspec_parse(spec, &ss, why, sizeof(why)) != 0 ||
	    rd_sockspec_addr(&ss, &sa, &salen, why, sizeof(why)) != 0)
		drive_error("-s %s", why);
	if ((drive_fd = socket(sa.ss_family, SOCK_STREAM, 0)) < 0 ||
	    connect(drive_fd, (struct sockaddr *)&sa, salen) != 0)
		drive_error("connect %s: %s", spec, strerror(errno));
}

/* drive_write - all of b to the filter, or exit */
static void
drive_write(const struct mw_buf *b)
{
	size_t off = 0;
	ssize_t w;

	while (off < b->len) {
		if ((w = write(drive_fd, b->p + off, b->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			drive_error("write: %s (the filter closed the "
				    "connection?)",
			    strerror(errno));
		}
		off += (size_t)w;
	}
}

/* drive_send - one packet to the filter, or exit */
static void
drive_send(char cmd, const unsigned char *data, size_t n)
{
	struct mw_buf b = {NULL, 0, 0};

	mw_pkt(&b, cmd, data, n);
	drive_write(&b);
	free(b.p);
}

/* drive_read_full - n bytes, or 1 on EOF before the first, or exit */
static int
drive_read_full(unsigned char *p, size_t n, bool eof_ok)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t r;
	int pr;

	while (got < n) {
		pfd.fd = drive_fd;
		pfd.events = POLLIN;
		if ((pr = poll(&pfd, 1, drive_timeout_ms)) < 0) {
			if (errno == EINTR)
				continue;
			drive_error("poll: %s", strerror(errno));
		}
		if (pr == 0)
			drive_error(
			    "timeout: no reply after %d ms", drive_timeout_ms);
		if ((r = read(drive_fd, p + got, n - got)) < 0) {
			if (errno == EINTR)
				continue;
			drive_error("read: %s", strerror(errno));
		}
		if (r == 0) {
			if (got == 0 && eof_ok)
				return (1);
			drive_error("the filter closed the connection");
		}
		got += (size_t)r;
	}
	return (0);
}

/* drive_recv - one packet: its command and data (malloc'ed, +1 NUL) */
static char
drive_recv(unsigned char **data, size_t *n)
{
	unsigned char hdr[5];
	char cmd;

	drive_read_full(hdr, 5, false);
	if (mw_hdr(hdr, DRIVE_REPLY_MAX, &cmd, n) != 0)
		drive_error("bad reply length %zu", *n);
	if ((*data = calloc(1, *n + 1)) == NULL)
		drive_error("out of memory");
	if (*n > 0)
		drive_read_full(*data, *n, false);
	return (cmd);
}

/* drive_show_lines - print "TAG| line" for each part of p split at sep */
static void
drive_show_lines(
    const char *tag, const unsigned char *p, size_t n, const char *sep)
{
	size_t sl = strlen(sep), start = 0, i;

	for (i = 0; i + sl <= n; i++)
		if (memcmp(p + i, sep, sl) == 0) {
			printf("%s| ", tag);
			drive_show(p + start, i - start);
			putchar('\n');
			start = i + sl;
			i += sl - 1;
		}
	printf("%s| ", tag);
	drive_show(p + start, n - start);
	putchar('\n');
}

/* drive_header_reply - NAME\0VALUE\0 after idx bytes of index */
static void
drive_header_reply(
    const char *kind, const unsigned char *d, size_t n, bool indexed)
{
	const unsigned char *name, *val;
	size_t off = 0, nl;
	uint32_t idx = 0;

	if (indexed) {
		if (n < 4)
			drive_error("%s: short reply", kind);
		memcpy(&idx, d, 4);
		idx = ntohl(idx);
		off = 4;
	}
	name = d + off;
	if ((nl = strnlen((const char *)name, n - off)) >= n - off)
		drive_error("%s: name not terminated", kind);
	val = name + nl + 1;
	if (memchr(val, '\0', n - off - nl - 1) == NULL)
		drive_error("%s: value not terminated", kind);
	printf("%s", kind);
	if (indexed)
		printf(" %u", (unsigned)idx);
	putchar(' ');
	drive_show(name, nl);
	putchar('\n');
	drive_show_lines("header", val, strlen((const char *)val), "\n");
}

/* drive_replies - read replies to stage until a final one */
static void
drive_replies(const char *stage)
{
	unsigned char *d;
	size_t n;
	char c;

	for (;;) {
		c = drive_recv(&d, &n);
		printf("%s ", stage);
		switch (c) {
		case SMFIR_CONTINUE:
			printf("continue\n");
			break;
		case SMFIR_REJECT:
			printf("reject\n");
			break;
		case SMFIR_TEMPFAIL:
			printf("tempfail\n");
			break;
		case SMFIR_ACCEPT:
			printf("accept\n");
			break;
		case SMFIR_DISCARD:
			printf("discard\n");
			break;
		case SMFIR_SKIP:
			printf("skip\n");
			break;
		case SMFIR_PROGRESS:
			printf("progress\n");
			break;
		case SMFIR_REPLYCODE:
			if (n == 0 || d[n - 1] != '\0')
				drive_error("replycode not terminated");
			printf("replycode %zu bytes\n", n - 1);
			drive_show_lines("reply", d, n - 1, "\r\n");
			break;
		case SMFIR_INSHEADER:
			drive_header_reply("insheader", d, n, true);
			break;
		case SMFIR_CHGHEADER:
			drive_header_reply("chgheader", d, n, true);
			break;
		case SMFIR_ADDHEADER:
			drive_header_reply("addheader", d, n, false);
			break;
		default:
			printf("other '");
			drive_show((unsigned char *)&c, 1);
			printf("' %zu bytes\n", n);
			break;
		}
		free(d);
		if (c == SMFIR_CONTINUE || c == SMFIR_REJECT ||
		    c == SMFIR_TEMPFAIL || c == SMFIR_ACCEPT ||
		    c == SMFIR_DISCARD || c == SMFIR_SKIP ||
		    c == SMFIR_REPLYCODE)
			break;
	}
	fflush(stdout);
}

static void
drive_optneg(void)
{
	struct mw_buf b = {NULL, 0, 0};
	uint32_t version, actions;
	unsigned char *d;
	size_t n;

	mw_optneg(&b, 6, SMFI_CURR_ACTS,
	    SMFIP_RCPT_REJ | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA |
		SMFIP_NOEOH | SMFIP_NOHDRS | SMFIP_NR_CONN | SMFIP_NR_HELO |
		SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN |
		SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_HDR);
	drive_write(&b);
	free(b.p);
	if (drive_recv(&d, &n) != SMFIC_OPTNEG ||
	    mw_optneg_parse(d, n, &version, &actions, &drive_proto) != 0)
		drive_error("bad SMFIC_OPTNEG reply");
	printf("optneg version %u actions 0x%x protocol 0x%x\n",
	    (unsigned)version, (unsigned)actions, (unsigned)drive_proto);
	free(d);
}

/* The commands of the script: name, packet command, skip and no-reply flags. */
static const struct {
	const char *name;
	char cmd;
	uint32_t skip;
	uint32_t noreply; /* negotiated: no reply is due */
	bool reply;       /* a reply is due otherwise */
	int minargs;
} drive_cmds[] = {
    {"connect", SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, true, 2},
    {"helo", SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, true, 1},
    {"mail", SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, true, 1},
    {"rcpt", SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, true, 1},
    {"data", SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, true, 0},
    {"header", SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, true, 2},
    {"eoh", SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, true, 0},
    {"body", SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, true, 1},
    {"eom", SMFIC_BODYEOB, 0, 0, true, 0},
    {"abort", SMFIC_ABORT, 0, 0, false, 0},
    {"quit", SMFIC_QUIT, 0, 0, false, 0},
};

static void
drive_line(char *line)
{
	struct mw_buf pkt = {NULL, 0, 0};
	char *words[64], *p;
	size_t nw = 0, i, k;

	for (p = strtok(line, " "); p != NULL; p = strtok(NULL, " ")) {
		if (nw == sizeof(words) / sizeof(words[0]))
			drive_script_error("too many words");
		words[nw++] = p;
	}
	if (nw == 0)
		return;
	if (strcmp(words[0], "macro") == 0) {
		if (nw < 2 || strlen(words[1]) != 1)
			drive_script_error("macro CMD NAME VALUE ...");
		mw_putc(&pkt, (unsigned char)words[1][0]);
		for (i = 2; i < nw; i++) {
			drive_unescape(&pkt, words[i]);
			mw_putc(&pkt, '\0');
		}
		drive_send(SMFIC_MACRO, pkt.p, pkt.len);
		free(pkt.p);
		return;
	}
	if (strcmp(words[0], "hangup") == 0) {
		printf("hangup\n");
		fflush(stdout);
		close(drive_fd);
		exit(0);
	}
	if (strcmp(words[0], "raw") == 0) {
		if (nw < 2 || strlen(words[1]) != 1)
			drive_script_error("raw CMD BYTES");
		for (i = 2; i < nw; i++)
			drive_unescape(&pkt, words[i]);
		drive_send(words[1][0], pkt.p, pkt.len);
		/* A known command the filter does not answer: read nothing. */
		for (k = 0; k < sizeof(drive_cmds) / sizeof(drive_cmds[0]); k++)
			if (drive_cmds[k].cmd == words[1][0])
				break;
		if (k < sizeof(drive_cmds) / sizeof(drive_cmds[0]) &&
		    (!drive_cmds[k].reply ||
			(drive_proto & drive_cmds[k].noreply) != 0)) {
			printf("raw noreply\n");
			fflush(stdout);
		} else
			drive_replies("raw");
		free(pkt.p);
		return;
	}
	for (k = 0; k < sizeof(drive_cmds) / sizeof(drive_cmds[0]); k++)
		if (strcmp(words[0], drive_cmds[k].name) == 0)
			break;
	if (k == sizeof(drive_cmds) / sizeof(drive_cmds[0]))
		drive_script_error("unknown command \"%s\"", words[0]);
	if ((int)nw - 1 < drive_cmds[k].minargs)
		drive_script_error("%s: missing arguments", words[0]);
	if (drive_cmds[k].skip != 0 && (drive_proto & drive_cmds[k].skip)) {
		printf("%s skipped\n", words[0]);
		return;
	}
	if (drive_cmds[k].cmd == SMFIC_CONNECT) {
		uint16_t port;

		drive_unescape(&pkt, words[1]);
		mw_putc(&pkt, '\0');
		drive_unescape(&pkt, words[2]); /* family letter */
		if (nw >= 5) {
			port = htons((uint16_t)atoi(words[3]));
			mw_put(&pkt, &port, 2);
			drive_unescape(&pkt, words[4]);
			mw_putc(&pkt, '\0');
		}
	} else if (drive_cmds[k].cmd == SMFIC_BODY) {
		drive_unescape(&pkt, words[1]);
	} else {
		/* Each word a NUL-terminated string (argv, name/value). */
		for (i = 1; i < nw; i++) {
			drive_unescape(&pkt, words[i]);
			mw_putc(&pkt, '\0');
		}
	}
	drive_send(drive_cmds[k].cmd, pkt.p, pkt.len);
	free(pkt.p);
	if (drive_cmds[k].reply && !(drive_proto & drive_cmds[k].noreply))
		drive_replies(words[0]);
	else if (drive_cmds[k].reply) {
		printf("%s noreply\n", words[0]);
		fflush(stdout);
	} else {
		printf("%s sent\n", words[0]);
		fflush(stdout);
	}
}

int
main(int argc, char **argv)
{
	const char *spec = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int c;

	mw_prog = "milterdrive";
	while ((c = getopt(argc, argv, "s:t:")) != -1) {
		switch (c) {
		case 's':
			spec = optarg;
			break;
		case 't':
			drive_timeout_ms = atoi(optarg) * 1000;
			break;
		default:
			drive_usage();
		}
	}
	if (spec == NULL || optind != argc || drive_timeout_ms <= 0)
		drive_usage();
	signal(SIGPIPE, SIG_IGN);
	drive_connect(spec);
	drive_optneg();
	while ((n = getline(&line, &cap, stdin)) > 0) {
		drive_lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		drive_line(line);
	}
	free(line);
	/* After QUIT the filter closes; anything else is a stray reply. */
	{
		unsigned char x;

		if (drive_read_full(&x, 1, true) == 0)
			drive_error("data from the filter after the script");
	}
	printf("closed\n");
	close(drive_fd);
	return (0);
}

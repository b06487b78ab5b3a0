/*
 * nullfilter.c - the floor: a libmilter filter whose every callback
 * continues, to measure what libmilter and the milter protocol cost
 * before any filter logic.
 *
 *     nullfilter -s unix:/tmp/rdb/null.sock          # plain
 *     nullfilter -s unix:/tmp/rdb/null.sock -R       # + SMFIP_RCPT_REJ
 *     nullfilter -s unix:/tmp/rdb/null.sock -r       # no-reply + skip
 *     nullfilter -s unix:/tmp/rdb/null.sock -L       # the limit
 *
 * Plain (no option): no xxfi_negotiate, so libmilter negotiates as for any
 * filter with every callback set: every stage sent, every stage answered.
 * -R: negotiate SMFIP_RCPT_REJ too, so the filter sees the recipients the
 * MTA rejected, as relaydiag does (same events, same replies otherwise).
 * -r: negotiate every no-reply flag the MTA offers (SMFIP_NR_CONN ...
 * SMFIP_NR_BODY) and skip the body, DATA, EOH and unknown commands
 * (SMFIP_NOBODY ...); the callbacks of the no-reply stages then return
 * SMFIS_NOREPLY, as libmilter requires (engine.c sendreply).
 * -L: the limit, what a filter that sees what relaydiag sees cannot go
 * below: -R and -r, no headers either (SMFIP_NOHDRS), so only CONNECT,
 * HELO, MAIL and RCPT (rejected ones included) reach it, none answered;
 * and one header added at end of message (SMFIF_ADDHDRS), as relaydiag's
 * annotate mode does.
 * -S: with -L, the safe limit: a reply at CONNECT and RCPT, as relaydiag
 * gives. Without one, an MTA that awaits nothing hangs up on a client's
 * QUIT before libmilter read the commands, and libmilter drops them
 * (mi_rd_cmd takes POLLHUP for an error): -L alone loses sessions under
 * Postfix, -L -S does not.
 * Stops on SIGTERM, SIGINT or SIGHUP (libmilter's signal thread).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static bool nf_rcpt_rej; /* -R */
static bool nf_noreply;  /* -r */
static bool nf_limit;    /* -L */
static bool nf_safe;     /* -S */

/* The stages whose reply -r gives up, and those it skips. */
#define NF_NR_FLAGS                                                            \
	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |       \
	    SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH |      \
	    SMFIP_NR_BODY)
#define NF_SKIP_FLAGS                                                          \
	(SMFIP_NOBODY | SMFIP_NODATA | SMFIP_NOEOH | SMFIP_NOUNKNOWN)

static sfsistat
nf_reply(void)
{
	return (nf_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE);
}

static sfsistat
nf_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx;
	(void)f0;
	(void)f2;
	(void)f3;
	*pf0 = 0;
	*pf1 = 0;
	if (nf_rcpt_rej)
		*pf1 |= f1 & SMFIP_RCPT_REJ;
	if (nf_noreply) {
		/*
		 * libmilter offers every NR flag (it fakes those the MTA
		 * lacks) but only tells the MTA of those it offered.
		 */
		*pf1 |= f1 & (NF_NR_FLAGS | NF_SKIP_FLAGS);
	}
	if (nf_limit) {
		*pf0 = f0 & SMFIF_ADDHDRS;
		*pf1 |= f1 & SMFIP_NOHDRS;
	}
	if (nf_safe)
		*pf1 &= ~(unsigned long)(SMFIP_NR_CONN | SMFIP_NR_RCPT);
	*pf2 = 0;
	*pf3 = 0;
	return (SMFIS_CONTINUE);
}

static sfsistat
nf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	return (nf_safe ? SMFIS_CONTINUE : nf_reply());
}

/* RCPT: answered under -S, as relaydiag answers it */
static sfsistat
nf_rcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return (nf_safe ? SMFIS_CONTINUE : nf_reply());
}

static sfsistat
nf_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return (nf_reply());
}

static sfsistat
nf_envelope(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return (nf_reply());
}

static sfsistat
nf_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return (nf_reply());
}

static sfsistat
nf_stage(SMFICTX *ctx)
{
	(void)ctx;
	return (nf_reply());
}

static sfsistat
nf_body(SMFICTX *ctx, unsigned char *p, size_t len)
{
	(void)ctx;
	(void)p;
	(void)len;
	return (nf_reply());
}

static sfsistat
nf_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return (nf_reply());
}

/* -L: one header at end of message, as relaydiag's annotate mode. */
static sfsistat
nf_eom(SMFICTX *ctx)
{
	if (nf_limit)
		(void)smfi_insheader(ctx, 0, (char *)(uintptr_t) "X-Null",
		    (char *)(uintptr_t) "limit");
	return (SMFIS_CONTINUE);
}

/* Abort, close: always answered (or never), continue. */
static sfsistat
nf_continue(SMFICTX *ctx)
{
	(void)ctx;
	return (SMFIS_CONTINUE);
}

static struct smfiDesc nf_desc = {
    .xxfi_name = (char *)(uintptr_t) "nullfilter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = nf_connect,
    .xxfi_helo = nf_helo,
    .xxfi_envfrom = nf_envelope,
    .xxfi_envrcpt = nf_rcpt,
    .xxfi_header = nf_header,
    .xxfi_eoh = nf_stage,
    .xxfi_body = nf_body,
    .xxfi_eom = nf_eom,
    .xxfi_abort = nf_continue,
    .xxfi_close = nf_continue,
    .xxfi_unknown = nf_unknown,
    .xxfi_data = nf_stage,
    .xxfi_negotiate = NULL,
};

static void
nf_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: nullfilter -s SOCKET [-R] [-r] [-L] [-b backlog] "
	    "[-m mode]\n"
	    "  -s  unix:/path or inet:port@host (libmilter's syntax)\n"
	    "  -R  negotiate SMFIP_RCPT_REJ (see MTA-rejected recipients)\n"
	    "  -r  negotiate every no-reply flag and skip body/data/eoh\n"
	    "  -L  the limit: -R -r, no headers, one header added at EOM\n"
	    "  -S  with -L: a reply at CONNECT and RCPT (the safe limit)\n"
	    "  -b  listen backlog (default: libmilter's)\n"
	    "  -m  octal mode of a unix socket (e.g. 666)\n");
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *path;
	long mode = -1;
	int c, backlog = 0;

	while ((c = getopt(argc, argv, "s:RrLSb:m:h")) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'R':
			nf_rcpt_rej = true;
			break;
		case 'r':
			nf_noreply = true;
			break;
		case 'L':
			nf_limit = nf_rcpt_rej = nf_noreply = true;
			nf_desc.xxfi_flags = SMFIF_ADDHDRS;
			break;
		case 'S':
			nf_safe = true;
			break;
		case 'b':
			backlog = atoi(optarg);
			break;
		case 'm':
			mode = strtol(optarg, NULL, 8);
			break;
		case 'h':
			nf_usage(stdout);
			return (0);
		default:
			nf_usage(stderr);
			return (2);
		}
	}
	if (sock == NULL || optind != argc) {
		nf_usage(stderr);
		return (2);
	}
	if (nf_rcpt_rej || nf_noreply)
		nf_desc.xxfi_negotiate = nf_negotiate;
	if (smfi_register(nf_desc) != MI_SUCCESS ||
	    smfi_setconn((char *)(uintptr_t)sock) != MI_SUCCESS ||
	    (backlog > 0 && smfi_setbacklog(backlog) != MI_SUCCESS)) {
		fprintf(stderr,
		    "nullfilter: libmilter refused the "
		    "registration or the socket \"%s\"\n",
		    sock);
		return (1);
	}
	if (smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullfilter: cannot open %s\n", sock);
		return (1);
	}
	path = strchr(sock, ':') != NULL ? strchr(sock, ':') + 1 : sock;
	if (mode >= 0 &&
	    (strncmp(sock, "unix:", 5) == 0 ||
		strncmp(sock, "local:", 6) == 0 || sock[0] == '/') &&
	    chmod(path, (mode_t)mode) != 0)
		perror("nullfilter: chmod");
	return (smfi_main() == MI_SUCCESS ? 0 : 1);
}

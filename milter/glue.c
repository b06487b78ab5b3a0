/*
 * glue.c - the libmilter callbacks: arguments and macros in, one lib call,
 * verdict out.
 *
 * Owns struct smfiDesc, the protocol negotiation and the failure policy. No
 * decision about diagnoses lives here: session.c makes them. Per-connection
 * state lives only in smfi_setpriv (libmilter may serve many sessions on
 * fewer threads): a struct glue_conn made at negotiation, holding the
 * configuration snapshot the connection negotiated with (a reload changes
 * new connections only, so what was negotiated always holds) and the
 * session from CONNECT on. xxfi_close may come with NULL private data, or
 * twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "milter.h"
#include "relaydiag/config.h"
#include "relaydiag/log.h"
#include "relaydiag/metrics.h"
#include "relaydiag/snapshot.h"

/* Shared by every session; set once before smfi_main starts threads. */
static struct front_services glue_sv;

struct glue_conn {
	struct rd_config *cfg; /* a snapshot reference, released at close */
	struct rd_session *s;  /* from CONNECT on */
};

/* glue_conn - the connection's state, made on first use */
static struct glue_conn *
glue_conn(SMFICTX *ctx)
{
	struct glue_conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		return (c);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->cfg = rd_snapshot_acquire();
	if (c->cfg == NULL || smfi_setpriv(ctx, c) != MI_SUCCESS) {
		rd_snapshot_release(c->cfg);
		free(c);
		return (NULL);
	}
	return (c);
}

/* glue_session - the session, or NULL (no CONNECT yet, out of memory) */
static struct rd_session *
glue_session(SMFICTX *ctx)
{
	struct glue_conn *c = smfi_getpriv(ctx);

	return (c != NULL ? c->s : NULL);
}

void
glue_set_services(const struct front_services *sv)
{
	glue_sv = *sv;
}

/*
 * glue_failure - the failure policy, for a callback without its session
 * (out of memory, no configuration): mail goes on, unless relaydiag is the
 * relay gate (RelayGate or enforce mode, deployment 2), where failing open
 * would make the MTA an open relay. The connection's own configuration
 * decides, the one it negotiated with; without one, the current.
 */
static sfsistat
glue_failure(SMFICTX *ctx)
{
	struct glue_conn *c = smfi_getpriv(ctx);
	struct rd_config *cfg;
	sfsistat r = SMFIS_CONTINUE;

	if (c != NULL) /* holds its reference until close */
		return (c->cfg->relay_gate || c->cfg->mode == RD_MODE_ENFORCE
			    ? SMFIS_TEMPFAIL
			    : SMFIS_CONTINUE);
	cfg = rd_snapshot_acquire();
	if (cfg == NULL || cfg->relay_gate || cfg->mode == RD_MODE_ENFORCE)
		r = SMFIS_TEMPFAIL;
	rd_snapshot_release(cfg);
	return (r);
}

/*
 * glue_negotiate - what relaydiag asks of the MTA. It sees the recipients
 * the MTA rejected (SMFIP_RCPT_REJ); it skips the stages it never looks at
 * (body, DATA, EOH, unknown commands; headers too in observe mode without
 * per-id actions, or with StripForgedHeaders no); and it gives no reply at
 * HELO, MAIL and header (SMFIP_NR_*): a round trip less each.
 * It replies at CONNECT and at RCPT. An MTA that awaits no reply sends
 * its commands and, when the client quits, QUIT and hangs up at once; a
 * socket hung up is an error to libmilter's mi_rd_cmd (POLLHUP) even with
 * commands still unread in it, so the session is dropped, callbacks and
 * events with it (docs/BENCHMARKS.md, "No reply at RCPT"). CONNECT
 * answered, every connection has its session, and its session event at
 * close; RCPT answered, every refused recipient its decision. libmilter
 * fakes the no-reply flags for an MTA without them, and forces a reply of
 * those stages to "no reply" (libmilter engine.c sendreply), so those
 * callbacks return SMFIS_NOREPLY and the failure policy acts at RCPT.
 */
static sfsistat
glue_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	struct glue_conn *conn = glue_conn(ctx);
	const struct rd_config *cfg = conn != NULL ? conn->cfg : NULL;
	unsigned long want;

	(void)f2;
	(void)f3;
	/* Header edits: add ours, delete forged copies. */
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST);
	want = SMFIP_RCPT_REJ | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA |
	       SMFIP_NOEOH | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR;
	/* Headers matter only where relaydiag may change the message, and
	   removes forged copies of its own itself (StripForgedHeaders). */
	if (cfg != NULL &&
	    ((cfg->mode == RD_MODE_OBSERVE && cfg->n_actions == 0) ||
		!cfg->strip_forged_headers))
		want |= SMFIP_NOHDRS;
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	if ((f1 & SMFIP_RCPT_REJ) == 0)
		rd_log(LOG_WARNING, NULL,
		    "the MTA does not offer "
		    "SMFIP_RCPT_REJ: its own rejections will not be seen");
	if ((f0 & SMFIF_SETSYMLIST) == 0 || macros_request(ctx) != 0)
		rd_log(LOG_WARNING, NULL,
		    "the MTA refused smfi_setsymlist: "
		    "only its default macros will be seen");
	return (SMFIS_CONTINUE);
}

static sfsistat
glue_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct glue_conn *conn;
	struct rd_session *s;
	struct rd_conn_info ci;
	char ip[64];

	/*
	 * A reply at CONNECT, the one stage answered before RCPT: the MTA
	 * then waits for it, so libmilter reads CONNECT before the MTA can
	 * hang up, and every connection gets its session (and its session
	 * event at close) even when the client quits at once. Without a
	 * session, the failure policy acts at RCPT.
	 */
	if ((conn = glue_conn(ctx)) == NULL || conn->s != NULL)
		return (SMFIS_CONTINUE);
	if ((s = rd_session_new(conn->cfg, glue_sv.sink)) == NULL) {
		rd_log(LOG_ERR, NULL, "connect: out of memory");
		return (SMFIS_CONTINUE);
	}
	rd_session_use(s, glue_sv.history, glue_sv.dns);
	rd_session_use_explained(s, glue_sv.explained);
	rd_session_use_authfails(
	    s, glue_sv.authfails, rd_session_config(s)->authfail_window);
	rd_session_use_seen(s, glue_sv.seen);
	conn->s = s;
	macros_connect(ctx, hostname, hostaddr, &ci, ip, sizeof(ip));
	rd_session_connect(s, &ci);
	return (SMFIS_CONTINUE);
}

static sfsistat
glue_helo(SMFICTX *ctx, char *helo)
{
	struct rd_session *s = glue_session(ctx);
	struct rd_tls_info tls;

	if (s != NULL) {
		macros_tls(ctx, &tls);
		rd_session_helo(s, helo, &tls);
	}
	return (SMFIS_NOREPLY); /* SMFIP_NR_HELO */
}

static sfsistat
glue_envfrom(SMFICTX *ctx, char **argv)
{
	struct rd_session *s = glue_session(ctx);
	struct rd_mail_info mi;

	if (s != NULL) {
		macros_mail(ctx, argv, &mi);
		rd_session_mail(s, &mi);
	}
	return (SMFIS_NOREPLY); /* SMFIP_NR_MAIL */
}

/* glue_reply - hand the explanatory reply to the MTA */
static void
glue_reply(SMFICTX *ctx, const struct rd_session *s, const struct rd_verdict *v)
{
	char *l[RD_REPLY_LINES_MAX + 1];
	size_t i;

	for (i = 0; i <= RD_REPLY_LINES_MAX; i++)
		l[i] = i < v->nlines ? (char *)(uintptr_t)v->lines[i] : NULL;
	/* smfi_setmlreply stops at the first NULL. */
	if (smfi_setmlreply(ctx, v->code, v->dsn, l[0], l[1], l[2], l[3], l[4],
		l[5], l[6], l[7], l[8], l[9], l[10], l[11],
		l[12]) != MI_SUCCESS)
		rd_log(LOG_WARNING, rd_session_id(s),
		    "reply refused by "
		    "libmilter; the MTA sends its default text");
}

static sfsistat
glue_envrcpt(SMFICTX *ctx, char **argv)
{
	struct rd_session *s = glue_session(ctx);
	struct rd_rcpt_info ri;
	struct rd_verdict v;

	if (s == NULL)
		return (glue_failure(ctx));
	macros_rcpt(ctx, argv, &ri);
	rd_session_rcpt(s, &ri, &v);
	switch (v.action) {
	case RD_ACTION_REJECT:
		glue_reply(ctx, s, &v);
		return (SMFIS_REJECT);
	case RD_ACTION_TEMPFAIL:
		glue_reply(ctx, s, &v);
		return (SMFIS_TEMPFAIL);
	default:
		return (SMFIS_CONTINUE);
	}
}

static sfsistat
glue_header(SMFICTX *ctx, char *name, char *value)
{
	struct rd_session *s = glue_session(ctx);

	if (s != NULL)
		rd_session_header(s, name, value);
	return (SMFIS_NOREPLY); /* SMFIP_NR_HDR */
}

static sfsistat
glue_eom(SMFICTX *ctx)
{
	struct rd_session *s = glue_session(ctx);
	struct rd_eom_plan plan;
	unsigned i;

	if (s == NULL)
		return (glue_failure(ctx));
	rd_session_eom(s, macros_queue_id(ctx), &plan);
	for (i = plan.nremove; i > 0; i--)
		if (smfi_chgheader(ctx, plan.header_name, (int)i, NULL) !=
		    MI_SUCCESS)
			rd_log(LOG_WARNING, rd_session_id(s),
			    "could not remove a forged %s header",
			    plan.header_name);
	if (plan.add_header && smfi_insheader(ctx, 0, plan.header_name,
				   plan.header_value) != MI_SUCCESS)
		rd_log(LOG_WARNING, rd_session_id(s),
		    "could not add the %s "
		    "header",
		    plan.header_name);
	return (SMFIS_CONTINUE);
}

static sfsistat
glue_abort(SMFICTX *ctx)
{
	struct rd_session *s = glue_session(ctx);

	if (s != NULL)
		rd_session_abort(s);
	return (SMFIS_CONTINUE);
}

static sfsistat
glue_close(SMFICTX *ctx)
{
	struct glue_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return (SMFIS_CONTINUE);
	smfi_setpriv(ctx, NULL);
	if (c->s != NULL) {
		rd_session_close(c->s);
		rd_session_free(c->s);
	}
	rd_snapshot_release(c->cfg);
	free(c);
	return (SMFIS_CONTINUE);
}

/*
 * The callbacks as libmilter calls them: each timed into the metrics'
 * histogram when a daemon serves them (two clock reads), else called
 * straight through.
 */
#define GLUE_TIMED(fn, stage, params, args)                                    \
	static sfsistat fn##_timed params                                      \
	{                                                                      \
		uint64_t t0;                                                   \
		sfsistat r;                                                    \
                                                                               \
		if (!rd_metrics_enabled())                                     \
			return (fn args);                                      \
		t0 = rd_metrics_now_ns();                                      \
		r = fn args;                                                   \
		rd_metrics_observe(stage, rd_metrics_now_ns() - t0);           \
		return (r);                                                    \
	}
GLUE_TIMED(glue_connect, RD_STAGE_CONNECT,
    (SMFICTX * ctx, char *hostname, _SOCK_ADDR *hostaddr),
    (ctx, hostname, hostaddr))
GLUE_TIMED(glue_helo, RD_STAGE_HELO, (SMFICTX * ctx, char *helo), (ctx, helo))
GLUE_TIMED(
    glue_envfrom, RD_STAGE_MAIL, (SMFICTX * ctx, char **argv), (ctx, argv))
GLUE_TIMED(
    glue_envrcpt, RD_STAGE_RCPT, (SMFICTX * ctx, char **argv), (ctx, argv))
GLUE_TIMED(glue_header, RD_STAGE_HEADER,
    (SMFICTX * ctx, char *name, char *value), (ctx, name, value))
GLUE_TIMED(glue_eom, RD_STAGE_EOM, (SMFICTX * ctx), (ctx))
GLUE_TIMED(glue_abort, RD_STAGE_ABORT, (SMFICTX * ctx), (ctx))
GLUE_TIMED(glue_close, RD_STAGE_CLOSE, (SMFICTX * ctx), (ctx))

struct smfiDesc glue_desc = {
    .xxfi_name = (char *)(uintptr_t) "relaydiag",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST,
    .xxfi_connect = glue_connect_timed,
    .xxfi_helo = glue_helo_timed,
    .xxfi_envfrom = glue_envfrom_timed,
    .xxfi_envrcpt = glue_envrcpt_timed,
    .xxfi_header = glue_header_timed,
    .xxfi_eoh = NULL,
    .xxfi_body = NULL,
    .xxfi_eom = glue_eom_timed,
    .xxfi_abort = glue_abort_timed,
    .xxfi_close = glue_close_timed,
    .xxfi_unknown = NULL,
    .xxfi_data = NULL,
    .xxfi_negotiate = glue_negotiate,
};

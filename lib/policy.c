/*
 * policy.c - the policy delegation front end (policy.h): the request's
 * grammar, and the answer from the engine.
 *
 * Owns the attribute-line grammar and the never-permit answer. The facts
 * come from the same modules the milter uses: the request becomes one
 * short session (session.c, front end "policy") with the CONNECT, HELO,
 * MAIL and RCPT the milter would have seen, the recipient marked as the
 * refusal Postfix is about to make ("Relay access denied", 5.7.1), so
 * that the same classification, history, DNS check, catalogue and
 * templates name the cause; reply.c makes the one line Postfix passes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "relaydiag/addr.h"
#include "relaydiag/classify.h"
#include "relaydiag/listener.h"
#include "relaydiag/log.h"
#include "relaydiag/policy.h"
#include "relaydiag/reply.h"
#include "relaydiag/session.h"
#include "relaydiag/text.h"

/* The answers: the only two relaydiag ever writes. */
#define POLICY_DUNNO "action=DUNNO\n\n"
#define POLICY_REJECT "action=REJECT 5.7.1 "

enum policy_field {
	PF_REQUEST = 0,
	PF_STATE,
	PF_CLIENT_ADDRESS,
	PF_CLIENT_PORT,
	PF_CLIENT_NAME,
	PF_HELO,
	PF_SASL_METHOD,
	PF_SASL_USERNAME,
	PF_SENDER,
	PF_RECIPIENT,
	PF_SERVER_ADDRESS,
	PF_SERVER_PORT,
	PF_TLS_PROTOCOL,
	PF_TLS_CIPHER,
	PF_TLS_BITS,
	PF_INSTANCE,
	PF_QUEUE_ID,
};

#define PF(name, field, bit)                                                   \
	{                                                                      \
		name, offsetof(struct rd_policy_req, field),                   \
		    sizeof(((struct rd_policy_req *)0)->field), bit            \
	}

static const struct {
	const char *name;
	size_t off, size;
	enum policy_field bit;
} policy_attrs[] = {
    PF("request", request, PF_REQUEST),
    PF("protocol_state", protocol_state, PF_STATE),
    PF("client_address", client_address, PF_CLIENT_ADDRESS),
    PF("client_port", client_port, PF_CLIENT_PORT),
    PF("client_name", client_name, PF_CLIENT_NAME),
    PF("helo_name", helo_name, PF_HELO),
    PF("sasl_method", sasl_method, PF_SASL_METHOD),
    PF("sasl_username", sasl_username, PF_SASL_USERNAME),
    PF("sender", sender, PF_SENDER),
    PF("recipient", recipient, PF_RECIPIENT),
    PF("server_address", server_address, PF_SERVER_ADDRESS),
    PF("server_port", server_port, PF_SERVER_PORT),
    PF("encryption_protocol", encryption_protocol, PF_TLS_PROTOCOL),
    PF("encryption_cipher", encryption_cipher, PF_TLS_CIPHER),
    PF("encryption_keysize", encryption_keysize, PF_TLS_BITS),
    PF("instance", instance, PF_INSTANCE),
    PF("queue_id", queue_id, PF_QUEUE_ID),
};

/* The fields whose cut makes any diagnosis a guess: DUNNO then. */
#define POLICY_NEEDED                                                          \
	((1u << PF_REQUEST) | (1u << PF_STATE) | (1u << PF_CLIENT_ADDRESS) |   \
	    (1u << PF_CLIENT_PORT) | (1u << PF_HELO) |                         \
	    (1u << PF_SASL_USERNAME) | (1u << PF_SENDER) |                     \
	    (1u << PF_RECIPIENT) | (1u << PF_SERVER_ADDRESS) |                 \
	    (1u << PF_SERVER_PORT))

void
rd_policy_parser_init(struct rd_policy_parser *p)
{
	memset(&p->req, 0, sizeof(p->req));
	p->len = 0;
	p->overlong = false;
	p->done = false;
}

/* policy_attr - one complete "name=value" line (len bytes, no newline) */
static void
policy_attr(struct rd_policy_req *r, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	size_t i, nlen, vlen;
	char *dst;

	if (r->nattrs < RD_POLICY_ATTRS_MAX)
		r->nattrs++;
	if (eq == NULL) {
		r->lines_dropped++;
		return;
	}
	nlen = (size_t)(eq - line);
	vlen = len - nlen - 1;
	for (i = 0; i < sizeof(policy_attrs) / sizeof(policy_attrs[0]); i++) {
		if (strlen(policy_attrs[i].name) != nlen ||
		    memcmp(policy_attrs[i].name, line, nlen) != 0)
			continue;
		dst = (char *)r + policy_attrs[i].off;
		/* A value that does not fit, or holds a NUL, is cut. */
		if (vlen >= policy_attrs[i].size ||
		    memchr(eq + 1, '\0', vlen) != NULL) {
			r->cut |= 1u << policy_attrs[i].bit;
			if (vlen >= policy_attrs[i].size)
				vlen = policy_attrs[i].size - 1;
		}
		memcpy(dst, eq + 1, vlen);
		dst[vlen] = '\0';
		return;
	}
}

size_t
rd_policy_feed(struct rd_policy_parser *p, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n && !p->done; i++) {
		if (buf[i] != '\n') {
			if (p->len < sizeof(p->line))
				p->line[p->len++] = buf[i];
			else
				p->overlong = true;
			continue;
		}
		/* A line: drop one CR before the newline, if any. */
		if (!p->overlong && p->len > 0 && p->line[p->len - 1] == '\r')
			p->len--;
		if (p->overlong) {
			/* Its attribute is unknown: as if cut. */
			p->req.lines_dropped++;
			p->req.cut |= POLICY_NEEDED;
		} else if (p->len == 0)
			p->done = true;
		else
			policy_attr(&p->req, p->line, p->len);
		p->len = 0;
		p->overlong = false;
	}
	return (i);
}

bool
rd_policy_answer_safe(const char *answer, size_t len)
{
	static const char dunno[] = POLICY_DUNNO;
	static const char reject[] = POLICY_REJECT;
	size_t i, rn = sizeof(reject) - 1;

	if (len == sizeof(dunno) - 1 && memcmp(answer, dunno, len) == 0)
		return (true);
	if (len < rn + 3 || memcmp(answer, reject, rn) != 0 ||
	    answer[len - 1] != '\n' || answer[len - 2] != '\n')
		return (false);
	for (i = rn; i < len - 2; i++)
		if ((unsigned char)answer[i] < 0x20 ||
		    (unsigned char)answer[i] >= 0x7f)
			return (false);
	/* The text, within what Postfix puts on one RFC 5321 line. */
	return (len - 2 - rn <= RD_REPLY_LINE_LIMIT && answer[rn] != ' ');
}

/* policy_port - a port attribute: 1..65535, else 0 */
static unsigned
policy_port(const char *s)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return (0);
	v = strtoul(s, &end, 10);
	return (*end == '\0' && v <= 65535 ? (unsigned)v : 0);
}

/*
 * policy_unauthorized - whether the request is one relaydiag explains:
 * a RCPT for an external recipient from a client that did not log in and
 * is not trusted on its listener (the same lists as the milter's). The
 * domain of the parsed recipient is left in *a.
 */
static bool
policy_unauthorized(const struct rd_config *cfg,
    const struct rd_policy_req *req, struct rd_addr *a)
{
	const struct rd_listener *lis;
	struct rd_rcpt_class cls;
	struct rd_err err;
	bool trusted;

	if (strcmp(req->request, "smtpd_access_policy") != 0 ||
	    rd_strcasecmp_ascii(req->protocol_state, "RCPT") != 0 ||
	    (req->cut & POLICY_NEEDED) != 0 || req->client_address[0] == '\0' ||
	    req->recipient[0] == '\0' ||
	    rd_addr_parse(req->recipient, a, &err) != 0 || !a->has_domain)
		return (false);
	lis = rd_config_listener(
	    cfg, req->server_address, policy_port(req->server_port));
	trusted = rd_netset_match(lis != NULL && lis->mynetworks != NULL
				      ? lis->mynetworks
				      : cfg->trusted_networks,
	    req->client_address);
	rd_classify_rcpt(
	    cfg, a->domain, NULL, req->sasl_username[0] != '\0', trusted, &cls);
	return (cls.rclass == RD_CLASS_EXTERNAL && cls.by == RD_AUTHZ_NONE);
}

/* policy_bracket - "<addr>" into buf, as the milter's argv has it */
static const char *
policy_bracket(char *buf, size_t len, const char *addr)
{
	snprintf(buf, len, "<%s>", addr);
	return (buf);
}

void
rd_policy_answer(const struct rd_policy_services *sv,
    const struct rd_policy_req *req, struct rd_buf *out)
{
	struct rd_addr a;
	char sender[sizeof(req->sender) + 3], rcpt[sizeof(a.addr) + 3];
	char text[RD_REPLY_LINE_LIMIT + 1];
	struct rd_conn_info ci;
	struct rd_tls_info tls;
	struct rd_mail_info mi;
	struct rd_rcpt_info ri;
	struct rd_verdict v;
	struct rd_session *s;
	struct rd_buf ans;

	if (sv->cfg == NULL || !policy_unauthorized(sv->cfg, req, &a) ||
	    (s = rd_session_new(sv->cfg, sv->sink)) == NULL) {
		rd_buf_adds(out, POLICY_DUNNO);
		return;
	}
	rd_session_set_front_end(s, "policy");
	rd_session_use(s, sv->history, sv->dns);
	rd_session_use_authfails(s, sv->authfails, sv->cfg->authfail_window);
	memset(&ci, 0, sizeof(ci));
	ci.client_ip = req->client_address;
	ci.client_port = policy_port(req->client_port);
	ci.client_name = req->client_name;
	ci.daemon_addr = req->server_address;
	ci.daemon_port = policy_port(req->server_port);
	rd_session_connect(s, &ci);
	memset(&tls, 0, sizeof(tls));
	tls.version = req->encryption_protocol;
	tls.cipher = req->encryption_cipher;
	tls.bits = req->encryption_keysize;
	rd_session_helo(
	    s, req->helo_name[0] != '\0' ? req->helo_name : NULL, &tls);
	memset(&mi, 0, sizeof(mi));
	mi.sender = policy_bracket(sender, sizeof(sender), req->sender);
	mi.queue_id = req->queue_id;
	mi.auth_type = req->sasl_method;
	mi.auth_authen = req->sasl_username;
	mi.tls = tls;
	rd_session_mail(s, &mi);
	/* What reject_unauth_destination is about to answer (postfix-notes). */
	memset(&ri, 0, sizeof(ri));
	ri.rcpt = policy_bracket(rcpt, sizeof(rcpt), a.addr);
	ri.mailer = "error";
	ri.host = "5.7.1";
	ri.addr = "Relay access denied";
	rd_session_rcpt(s, &ri, &v);
	if (v.eid[0] != '\0' && v.diag_id != NULL)
		rd_explained_note(sv->explained, req->client_address,
		    ci.client_port, a.addr, v.diag_id, v.eid, time(NULL));
	rd_buf_init(&ans);
	if (v.action == RD_ACTION_REJECT) {
		rd_reply_policy_text(&v, a.addr, text, sizeof(text));
		rd_buf_adds(&ans, POLICY_REJECT);
		rd_buf_adds(&ans, text);
		rd_buf_adds(&ans, "\n\n");
	}
	/* Never anything but the two answers, whatever the text became. */
	if (ans.len > 0 && rd_policy_answer_safe(ans.data, ans.len))
		rd_buf_add(out, ans.data, ans.len);
	else {
		if (ans.len > 0)
			rd_log(LOG_ERR, rd_session_id(s),
			    "policy: an answer failed its own check; DUNNO");
		rd_buf_adds(out, POLICY_DUNNO);
	}
	rd_buf_free(&ans);
	rd_session_close(s);
	rd_session_free(s);
}

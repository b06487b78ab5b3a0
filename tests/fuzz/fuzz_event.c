/*
 * fuzz_event.c - the event JSON writers (rd_event_rcpt_json, and the
 * message and session events) fed fuzzed network text in every member that
 * carries some: HELO, client name and address, AUTH user and mechanism,
 * TLS strings, sender, recipient, queue id and the MTA's reply text (put
 * through rd_classify_mta as the session does), with a real diagnosis of
 * those facts.
 *
 * Invariants: fz_check_event (parses with JSON_REJECT_DUPLICATES, every
 * member docs/events.md requires, of its type, nullable strings never "",
 * no newline), text that was valid UTF-8 comes back byte for byte, and
 * every event is byte for byte what jansson built (event_oracle.c).
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/event.h"
#include "relaydiag/ids.h"

#include "event_oracle.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_object_seed(1); /* as main() does, before any thread */
	return (0);
}

/* as_jansson - relaydiag's bytes are jansson's (tests/unit/event_oracle.c) */
static void
as_jansson(const char *mine, char *theirs)
{
	if (mine == NULL || theirs == NULL || strcmp(mine, theirs) != 0) {
		fprintf(stderr, "event differs from jansson's:\n  %s\n  %s\n",
		    mine != NULL ? mine : "(null)",
		    theirs != NULL ? theirs : "(null)");
		abort();
	}
	free(theirs);
}

static const char *const actions[] = {"none", "header", "reject", "tempfail"};

/* kept - the member at path ("client", "helo") kept s (when s is text) */
static void
kept(json_t *o, const char *obj, const char *key, const char *s)
{
	json_t *v = obj != NULL ? json_object_get(o, obj) : o;

	if (s == NULL || *s == '\0' || !json_is_object(v))
		return;
	fz_check_json_text(json_object_get(v, key), s, key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_event_common c;
	struct rd_event_rcpt r;
	struct rd_event_counts n;
	struct rd_rcpt_class cls;
	struct rd_mta_result m;
	struct rd_diagnosis d;
	struct rd_facts fa;
	struct timespec now;
	const struct rd_catalogue_entry *cat;
	const char *ids[64], *mailer, *host, *addr;
	char sid[RD_SID_LEN + 1], eid[RD_EID_MAX];
	size_t ncat, i;
	unsigned flags, more;
	uint64_t pick;
	struct fz f;
	json_t *o;
	char *json;

	fz_init(&f, data, size);
	flags = fz_byte(&f);
	more = fz_byte(&f);
	clock_gettime(CLOCK_REALTIME, &now);
	rd_id_session(sid);
	rd_id_event(eid, sid, 1 + (flags >> 4));

	memset(&c, 0, sizeof(c));
	c.type = "rcpt";
	c.id = eid;
	c.ts = &now;
	c.session = sid;
	c.host = fz_str_or_null(&f);
	c.queue_id = fz_str_or_null(&f);
	c.client_ip = fz_str_or_null(&f);
	c.client_port = fz_u16(&f);
	c.client_name = fz_str_or_null(&f);
	c.helo = fz_str_or_null(&f);
	c.trusted = flags & 1;
	c.daemon = fz_str_or_null(&f);
	c.server_port = fz_u16(&f);
	c.submission = flags & 2;
	c.tls_version = fz_str_or_null(&f);
	c.tls_cipher = fz_str_or_null(&f);
	c.tls_bits = fz_str_or_null(&f);
	c.auth_mech = fz_str_or_null(&f);
	c.auth_user = fz_str_or_null(&f);
	c.sender_addr = fz_str_or_null(&f);
	c.sender_domain = fz_str_or_null(&f);
	c.sender_local = flags & 4;
	c.action = actions[more & 3];

	mailer = fz_str_or_null(&f);
	host = fz_str_or_null(&f);
	addr = fz_str_or_null(&f);
	rd_classify_mta(mailer, host, addr, &m);
	memset(&cls, 0, sizeof(cls));
	cls.rclass = (enum rd_class)((more >> 2) % 3);
	cls.source = (enum rd_class_source)((more >> 4) % 3);
	cls.by = (enum rd_authz)((more >> 6) % 4);

	memset(&r, 0, sizeof(r));
	r.addr = fz_str(&f);
	r.domain = fz_str_or_null(&f);
	r.cls = &cls;
	r.mta = &m;

	memset(&fa, 0, sizeof(fa));
	fa.client_ip = c.client_ip;
	fa.client_name = c.client_name;
	fa.helo = c.helo;
	fa.server_port = c.server_port;
	fa.submission_port = c.submission;
	fa.tls = c.tls_version != NULL;
	fa.tls_auth_only = flags & 8;
	fa.trusted = c.trusted;
	fa.auth_user = c.auth_user;
	fa.sender = c.sender_addr;
	fa.sender_domain = c.sender_domain;
	fa.sender_local = c.sender_local;
	fa.rcpt = r.addr;
	fa.rcpt_domain = r.domain;
	fa.cls = cls;
	fa.mta = &m;
	fa.mx = (int)((flags >> 4) % 5) - 1; /* -1: not checked */
	fa.has_mx = fa.mx >= 0;
	fa.has_history = flags & 0x10;
	fa.sender_sasl_here = flags & 0x20;
	fa.elsewhere_ip = c.client_name;
	fa.mx_host = c.daemon;
	rd_diagnose_rcpt(&fa, &d);
	r.diag = &d;

	json = rd_event_rcpt_json(&c, &r);
	as_jansson(json, oracle_event_rcpt_json(&c, &r));
	o = fz_check_event(json, "rcpt");
	kept(o, NULL, "host", c.host);
	kept(o, NULL, "queue_id", c.queue_id);
	kept(o, "client", "ip", c.client_ip);
	kept(o, "client", "name", c.client_name);
	kept(o, "client", "helo", c.helo);
	kept(o, "server", "daemon", c.daemon);
	kept(o, "tls", "version", c.tls_version);
	kept(o, "tls", "cipher", c.tls_cipher);
	kept(o, "auth", "user", c.auth_user);
	kept(o, "sender", "addr", c.sender_addr);
	kept(o, "rcpt", "addr", r.addr);
	kept(o, "rcpt", "domain", r.domain);
	kept(o, "mta", "text", m.text);
	if ((c.auth_user != NULL && *c.auth_user != '\0') !=
	    json_is_object(json_object_get(o, "auth")))
		fz_fail("event: auth present iff a user logged in");
	if ((c.tls_version != NULL && *c.tls_version != '\0') !=
	    json_is_object(json_object_get(o, "tls")))
		fz_fail("event: tls present iff a version");
	json_decref(o);
	free(json);

	/* The message event: distinct catalogue ids, the worst diagnosis. */
	cat = rd_catalogue_all(&ncat);
	pick = 0;
	for (i = 0; i < 8; i++)
		pick = pick << 8 | fz_byte(&f);
	memset(&n, 0, sizeof(n));
	for (i = 0; i < ncat && i < 64; i++)
		if (pick & (1ULL << i))
			ids[n.ndiag_ids++] = cat[i].id;
	n.diag_ids = ids;
	n.rcpts_accepted = fz_byte(&f);
	n.rcpts_rejected = fz_byte(&f);
	n.rcpts = n.rcpts_accepted + n.rcpts_rejected;
	c.type = "message";
	c.action = more & 1 ? "header" : "none";
	json = rd_event_message_json(&c, &n, flags & 0x80 ? NULL : &d);
	as_jansson(
	    json, oracle_event_message_json(&c, &n, flags & 0x80 ? NULL : &d));
	o = fz_check_event(json, "message");
	json_decref(o);
	free(json);

	/* The session event: no transaction, no queue id. */
	c.type = "session";
	c.action = "none";
	c.sender_addr = NULL;
	c.queue_id = NULL;
	n.messages = fz_byte(&f);
	n.duration_ms = (long long)fz_u16(&f) * 1000;
	json = rd_event_session_json(&c, &n);
	as_jansson(json, oracle_event_session_json(&c, &n));
	o = fz_check_event(json, "session");
	json_decref(o);
	free(json);
	fz_done(&f);
	return (0);
}

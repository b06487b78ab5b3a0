/*
 * fuzz_policy.c - the policy delegation front end (policy.c): any byte
 * stream a policy client can send, fed to the parser in chunks, every
 * completed request answered by the engine.
 *
 * Input: byte 0 picks the configuration (trusted networks, local domains,
 * a Listener, RelayGate, HashPersonalData off), byte 1 the chunk size;
 * the rest is the stream ("name=value" lines, empty line, again).
 * Invariants: the service never permits: every answer is exactly
 * "action=DUNNO\n\n" or "action=REJECT 5.7.1 <printable ASCII that fits
 * Postfix's 512-octet line>\n\n" (rd_policy_answer_safe); the parser
 * consumes every byte and never reads past its input; every event it
 * publishes is valid, says front_end "policy", is a rcpt event with the
 * MTA's refusal (or an alert), and obeys the truth rule (no authorized-* id, no
 * no-login id for a client that logged in).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/catalogue.h"
#include "relaydiag/config.h"
#include "relaydiag/policy.h"
#include "relaydiag/sink.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONFIGS 4
static struct rd_config *configs[NCONFIGS];

static int
check_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	const struct rd_catalogue_entry *e;
	json_t *o;
	const char *id;

	(void)sk;
	o = fz_check_event(json, type);
	if (strcmp(type, "alert") == 0) { /* many refusals: relay probing */
		json_decref(o);
		free(json);
		return (0);
	}
	if (strcmp(type, "rcpt") != 0)
		fz_fail("policy: published a %s event", type);
	if (strcmp(json_string_value(json_object_get(o, "front_end")),
		"policy") != 0)
		fz_fail("policy: an event not marked front_end policy");
	if (strcmp(json_string_value(
		       json_object_get(json_object_get(o, "mta"), "verdict")),
		"reject") != 0)
		fz_fail("policy: an event without the MTA's refusal");
	id = json_string_value(
	    json_object_get(json_object_get(o, "diagnosis"), "id"));
	if (id == NULL || (e = rd_catalogue_find(id)) == NULL ||
	    (e->claims & RD_CAT_ON_ACCEPT) != 0 ||
	    (json_is_object(json_object_get(o, "auth")) &&
		(e->claims & RD_CAT_NO_LOGIN) != 0))
		fz_fail("policy: %s breaks the truth rule",
		    id != NULL ? id : "(none)");
	json_decref(o);
	free(json);
	return (0);
}

static const struct rd_sink_ops check_ops = {
    .emit_take = check_emit_take,
    .stats = fz_sink_stats,
    .close = fz_sink_close,
};
static struct rd_sink check_sink = {&check_ops};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rd_err err;
	unsigned i;

	(void)argc;
	(void)argv;
	json_object_seed(1);
	for (i = 0; i < NCONFIGS; i++) {
		if ((configs[i] = rd_config_defaults()) == NULL)
			abort();
		if (i % 2 == 1) { /* no trusted network at all */
			rd_netset_free(configs[i]->trusted_networks);
			configs[i]->trusted_networks = rd_netset_new();
		}
		if (rd_domainset_add_list(configs[i]->local_domains,
			"example.test, .example.test", &err) != 0 ||
		    rd_domainset_add_list(
			configs[i]->relay_domains, "backup.test", &err) != 0)
			fz_fail("policy: config: %s", err.text);
		configs[i]->relay_gate = i >= 2;
		if (i == 3) {
			configs[i]->listeners =
			    calloc(1, sizeof(*configs[i]->listeners));
			if (configs[i]->listeners == NULL ||
			    rd_listener_parse(configs[i]->listeners,
				"127.0.0.1:2525 tls-auth-only", &err) != 0)
				fz_fail("policy: listener: %s", err.text);
			configs[i]->n_listeners = 1;
		}
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_policy_services sv;
	struct rd_policy_parser *p;
	struct rd_buf out;
	size_t off = 2, chunk, n, got;

	if (size < 2)
		return (0);
	memset(&sv, 0, sizeof(sv));
	sv.cfg = configs[data[0] % NCONFIGS];
	sv.sink = &check_sink;
	chunk = (size_t)data[1] % 97 + 1;
	if ((p = malloc(sizeof(*p))) == NULL)
		abort();
	rd_policy_parser_init(p);
	rd_buf_init(&out);
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		/* a copy of exactly n bytes: ASan sees any read past it */
		{
			char *c = malloc(n);

			if (c == NULL)
				abort();
			memcpy(c, data + off, n);
			got = rd_policy_feed(p, c, n);
			free(c);
		}
		if (got == 0 || got > n)
			fz_fail("policy: feed consumed %zu of %zu", got, n);
		off += got;
		if (!p->done) {
			if (got != n)
				fz_fail("policy: stopped before the end of a "
					"request");
			continue;
		}
		rd_buf_reset(&out);
		rd_policy_answer(&sv, &p->req, &out);
		if (!rd_policy_answer_safe(out.data, out.len))
			fz_fail("policy: unsafe answer \"%.*s\"", (int)out.len,
			    out.data);
		rd_policy_parser_init(p);
	}
	rd_buf_free(&out);
	free(p);
	return (0);
}

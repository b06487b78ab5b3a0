/*
 * fuzz_logline.c - the MTA's log lines (logline.c) and what the log front
 * end makes of them (logfront.c): any bytes as one line, parsed in every
 * LogFormat, then handled with a checking sink.
 *
 * Input: byte 0 picks the formats and LogRejects; the rest is the line
 * (any byte, NUL and 8-bit included).
 * Invariants: the parse never reads past the line; every field is a
 * NUL-terminated string within its size; a kind is one of the five; every
 * event is valid JSON of its type (fz_check_event), and a delivery or
 * auth event obeys its contract (no client for a delivery, auth null for
 * a failed AUTH).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/config.h"
#include "relaydiag/logfront.h"
#include "relaydiag/logline.h"
#include "relaydiag/recent.h"
#include "relaydiag/seen.h"
#include "relaydiag/sink.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rd_config *cfg;
static struct rd_recent *authfails, *outbound;
static struct rd_seen *seen;
static struct rd_logwait *logwait;

static int
check_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	json_t *o;

	(void)sk;
	o = fz_check_event(json, type);
	if (strcmp(type, "delivery") == 0 &&
	    !json_is_null(json_object_get(o, "client")))
		fz_fail("logfront: a delivery event with a client");
	if (strcmp(type, "auth") == 0 &&
	    !json_is_null(json_object_get(o, "auth")))
		fz_fail("logfront: a failed AUTH that says someone logged in");
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
	(void)argc;
	(void)argv;
	json_object_seed(1);
	if ((cfg = rd_config_defaults()) == NULL ||
	    (authfails = rd_recent_new(64)) == NULL ||
	    (outbound = rd_recent_new(64)) == NULL ||
	    (seen = rd_seen_new(16)) == NULL ||
	    (logwait = rd_logwait_new(4)) == NULL)
		abort();
	return (0);
}

static void
check_str(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL)
		fz_fail(
		    "logline: %s is not NUL-terminated within its size", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_logfront_services sv;
	struct rd_logrec r;
	enum rd_logkind k;
	char *line;

	if (size < 1)
		return (0);
	if ((line = malloc(size - 1 + 1)) == NULL)
		abort();
	memcpy(line, data + 1, size - 1);
	/* the formats and LogRejects from byte 0 */
	cfg->log_formats = (data[0] & 7u) != 0 ? data[0] & 7u : 7u;
	cfg->log_rejects = (data[0] & 8u) != 0;
	k = rd_logline_parse(
	    line, size - 1, cfg->log_formats, (time_t)1796644800, &r);
	if ((unsigned)k > RD_LOG_AUTH_DOWN)
		fz_fail("logline: kind %u", (unsigned)k);
	check_str(r.prog, sizeof(r.prog), "prog");
	check_str(r.queue_id, sizeof(r.queue_id), "queue_id");
	check_str(r.client_name, sizeof(r.client_name), "client_name");
	check_str(r.client_ip, sizeof(r.client_ip), "client_ip");
	check_str(r.daemon_ip, sizeof(r.daemon_ip), "daemon_ip");
	check_str(r.helo, sizeof(r.helo), "helo");
	check_str(r.sender, sizeof(r.sender), "sender");
	check_str(r.rcpt, sizeof(r.rcpt), "rcpt");
	check_str(r.relay_host, sizeof(r.relay_host), "relay_host");
	check_str(r.relay_ip, sizeof(r.relay_ip), "relay_ip");
	check_str(r.status, sizeof(r.status), "status");
	check_str(r.code, sizeof(r.code), "code");
	check_str(r.dsn, sizeof(r.dsn), "dsn");
	check_str(r.text, sizeof(r.text), "text");
	check_str(r.mech, sizeof(r.mech), "mech");
	check_str(r.user, sizeof(r.user), "user");
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &check_sink;
	sv.authfails = authfails;
	sv.outbound = outbound;
	/* the join's wait too: every other input waits, then is flushed */
	sv.seen = seen;
	sv.wait = (data[0] & 16u) != 0 ? logwait : NULL;
	rd_logfront_handle(&sv, &r, (time_t)1796644800);
	rd_logfront_tick(&sv, (time_t)1796644800, (data[0] & 32u) != 0);
	(void)rd_logline_candidate(line, size - 1);
	free(line);
	return (0);
}

/*
 * fuzz_mta_text.c - rd_classify_mta on the recipient macros a milter gets
 * with SMFIP_RCPT_REJ ({rcpt_mailer}, {rcpt_host}, {rcpt_addr}: the first
 * three NUL-separated fields; a field "\x01" or a missing one is NULL),
 * then rd_diagnose_rcpt over the result (the built-in reply rules) with
 * facts from the rest (fz_facts), then the reply relaydiag would send for
 * that diagnosis (a byte: reject or tempfail; the event id).
 *
 * Invariants: the verdict is "accept" exactly when the mailer is not
 * "error"; a code is "" or [245]dd; a DSN is "" or RFC 3463
 * class.subject.detail; 4xx (by DSN, else by code) is a tempfail; every
 * text is NUL-terminated inside its array; the diagnosis is a catalogue
 * entry; the reply passes fz_check_reply.
 */
#include <stdint.h>
#include <string.h>

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/reply.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_code_dsn(const struct rd_mta_result *m)
{
	const char *p;
	size_t digits = 0, dots = 0;

	if (m->code[0] != '\0' &&
	    (strlen(m->code) != 3 || strchr("245", m->code[0]) == NULL ||
		strspn(m->code, "0123456789") != 3))
		fz_fail("mta: code \"%s\"", m->code);
	if (m->dsn[0] == '\0')
		return;
	if (strnlen(m->dsn, sizeof(m->dsn)) >= sizeof(m->dsn) ||
	    strchr("245", m->dsn[0]) == NULL || m->dsn[1] != '.')
		fz_fail("mta: dsn \"%s\"", m->dsn);
	for (p = m->dsn; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++digits > 3)
				fz_fail("mta: dsn \"%s\"", m->dsn);
		} else if (*p == '.' && digits > 0) {
			dots++;
			digits = 0;
		} else
			fz_fail("mta: dsn \"%s\"", m->dsn);
	}
	if (dots != 2 || digits == 0)
		fz_fail("mta: dsn \"%s\"", m->dsn);
}

static void
check_diagnosis(const struct rd_diagnosis *d)
{
	size_t i;

	if (d->entry == NULL || rd_catalogue_find(d->entry->id) != d->entry)
		fz_fail("diagnosis: not a catalogue entry");
	if (strnlen(d->summary, RD_DIAG_TEXT_MAX) >= RD_DIAG_TEXT_MAX ||
	    strnlen(d->remedy_client, RD_DIAG_TEXT_MAX) >= RD_DIAG_TEXT_MAX ||
	    strnlen(d->remedy_admin, RD_DIAG_TEXT_MAX) >= RD_DIAG_TEXT_MAX)
		fz_fail("diagnosis: text not NUL-terminated");
	if (d->nfacts > RD_DIAG_FACTS_MAX)
		fz_fail("diagnosis: %zu facts", d->nfacts);
	for (i = 0; i < d->nfacts; i++)
		if (strnlen(d->facts[i], RD_DIAG_FACT_MAX) >= RD_DIAG_FACT_MAX)
			fz_fail("diagnosis: fact %zu not NUL-terminated", i);
	/* Refused as a relay: a relay.* cause, or the MTA is wrong. */
	if (d->unauthorized_relay &&
	    ((strncmp(d->entry->id, "relay.", 6) != 0 &&
		 strcmp(d->entry->id, "rcpt.domain-not-accepted") != 0) ||
		strncmp(d->entry->id, "relay.authorized-", 17) == 0))
		fz_fail("diagnosis: unauthorized relay as %s", d->entry->id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_mta_result m;
	struct rd_diagnosis d;
	struct rd_verdict v;
	struct rd_facts fa;
	struct fz f;
	const char *mailer, *host, *addr;

	fz_init(&f, data, size);
	mailer = fz_str_or_null(&f);
	host = fz_str_or_null(&f);
	addr = fz_str_or_null(&f);
	memset(&m, 0x55, sizeof(m));
	rd_classify_mta(mailer, host, addr, &m);

	if (strnlen(m.text, sizeof(m.text)) >= sizeof(m.text) ||
	    strnlen(m.mailer, sizeof(m.mailer)) >= sizeof(m.mailer) ||
	    strnlen(m.code, sizeof(m.code)) >= sizeof(m.code))
		fz_fail("mta: a field is not NUL-terminated");
	if ((mailer != NULL && rd_strcasecmp_ascii(mailer, "error") == 0) !=
	    (m.verdict != RD_MTA_ACCEPT))
		fz_fail("mta: mailer \"%s\" gave verdict %s",
		    mailer != NULL ? mailer : "(null)",
		    rd_mta_verdict_name(m.verdict));
	if (m.verdict == RD_MTA_ACCEPT) {
		if (m.code[0] != '\0' || m.dsn[0] != '\0' || m.text[0] != '\0')
			fz_fail("mta: accepted with a code, DSN or text");
	} else {
		check_code_dsn(&m);
		if ((m.verdict == RD_MTA_TEMPFAIL) !=
		    (m.dsn[0] == '4' || (m.dsn[0] == '\0' && m.code[0] == '4')))
			fz_fail("mta: %s %s is %s", m.code, m.dsn,
			    rd_mta_verdict_name(m.verdict));
	}

	/* The facts around it, from the rest of the input. */
	fz_facts(&f, &fa, &m);
	rd_diagnose_rcpt(&fa, &d);
	check_diagnosis(&d);

	memset(&v, 0x55, sizeof(v));
	rd_reply_build(&v,
	    fz_byte(&f) & 1 ? RD_ACTION_TEMPFAIL : RD_ACTION_REJECT, &d,
	    fa.rcpt, fz_str_or_null(&f));
	fz_check_reply(&v);
	fz_done(&f);
	return (0);
}

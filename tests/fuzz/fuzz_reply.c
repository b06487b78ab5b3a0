/*
 * fuzz_reply.c - the two texts relaydiag hands the MTA: rd_reply_build
 * (the multi-line SMTP reply of a refused recipient) and rd_header_build
 * (the diagnostic header), fed fuzzed facts.
 *
 * Input: a flags byte, a byte for the MTA's verdict, its text, the facts
 * (fz_facts), then NUL-separated fields. The reply comes from a real
 * diagnosis of the fuzzed facts; with flag 0x40 its summary and client
 * remedy are replaced by raw fuzzed text too (a future template may carry
 * any network text). The header gets fuzzed host, HELO, client, user, TLS
 * version and diagnosis ids, and with flag 0x80 a smaller output buffer.
 *
 * Invariants (reply.h): fz_check_reply (printable ASCII, no CR/LF/NUL,
 * '%' doubled, lines < RD_REPLY_LINE_MAX, the Ref line last) and
 * fz_check_header (ASCII, folded only by "\n\t", no line over 78 columns
 * counting "X-Relay-Diagnostic: ").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/diagnose.h"
#include "relaydiag/reply.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IDS_MAX 40

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_mta_result m;
	struct rd_diagnosis d;
	struct rd_verdict v;
	struct rd_facts fa;
	struct rd_header_info h;
	const char *ids[IDS_MAX];
	char header[RD_HEADER_MAX];
	struct fz f;
	unsigned flags, more;
	size_t cap, nids;

	fz_init(&f, data, size);
	flags = fz_byte(&f);
	more = fz_byte(&f);

	/* The MTA's decision, as classify.c would fill it. */
	memset(&m, 0, sizeof(m));
	m.verdict = (enum rd_mta_verdict)(more % 3);
	rd_strlcpy(m.text, fz_str(&f), sizeof(m.text));
	if (m.verdict != RD_MTA_ACCEPT)
		rd_strlcpy(m.dsn,
		    m.verdict == RD_MTA_TEMPFAIL ? "4.7.1" : "5.7.1",
		    sizeof(m.dsn));

	fz_facts(&f, &fa, &m);
	rd_diagnose_rcpt(&fa, &d);
	if (flags & 0x40) {
		rd_strlcpy(d.summary, fz_str(&f), sizeof(d.summary));
		rd_strlcpy(
		    d.remedy_client, fz_str(&f), sizeof(d.remedy_client));
	}
	memset(&v, 0x55, sizeof(v));
	rd_reply_build(&v, flags & 32 ? RD_ACTION_TEMPFAIL : RD_ACTION_REJECT,
	    &d, fa.rcpt, fz_str_or_null(&f));
	fz_check_reply(&v);

	/* The header of a message from the same client. */
	memset(&h, 0, sizeof(h));
	h.host = fz_str_or_null(&f);
	h.session = fz_str_or_null(&f);
	h.client_ip = fa.client_ip;
	h.helo = fa.helo;
	h.port = fa.server_port;
	h.authorized = fz_str_or_null(&f);
	h.auth_user = fa.auth_user;
	h.tls_version = fz_str_or_null(&f);
	for (nids = 0; nids < IDS_MAX && !fz_empty(&f); nids++)
		ids[nids] = fz_str(&f);
	h.ids = ids;
	h.nids = nids;
	cap = flags & 0x80 ? 1 + (size_t)more * 8 : sizeof(header);
	if (cap > sizeof(header))
		cap = sizeof(header);
	memset(header, 0x55, sizeof(header));
	rd_header_build(&h, header, cap);
	fz_check_header("X-Relay-Diagnostic", header, cap);
	fz_done(&f);
	return (0);
}

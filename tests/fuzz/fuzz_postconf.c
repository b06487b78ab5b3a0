/*
 * fuzz_postconf.c - ImportPostfix's parser of what postconf prints
 * (rd_postconf_view_text, then rd_config_merge_view: postconf -x's
 * "name = value" lines and its stderr,
 * the unexpanded values, postconf -M's master.cf lines, postconf -P -x's
 * "service/type/name = value" lines), merged into a default configuration.
 *
 * Input: the five texts, NUL-separated (a missing one is empty; the raw
 * text "\x01" stands for none). A value naming a file ("mydestination =
 * /etc/x") would read the host's files: such values are left out (a '/'
 * turns the input into one without it), as fuzz_config does.
 *
 * Invariants: the merge succeeds (the only error is out of memory); every
 * warning is one line of printable ASCII, at most RD_CONFIG_WARNINGS_MAX
 * of them; the submission ports are 1 to RD_CONFIG_PORTS_MAX non-zero
 * ports; the configuration frees cleanly (ASan, LeakSanitizer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/config.h"
#include "relaydiag/postconf.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* dup_noslash - a writable copy of s, or NULL for NULL; '/' becomes '_' */
static char *
dup_noslash(const char *s)
{
	char *d, *p;

	if (s == NULL)
		return (NULL);
	if ((d = strdup(s)) == NULL)
		abort();
	for (p = d; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	return (d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_postconf_text t;
	struct rd_mta_view view;
	struct rd_config *cfg;
	struct rd_err err;
	struct fz f;
	const char *w;
	size_t i, k;

	fz_init(&f, data, size);
	t.expanded = dup_noslash(fz_str(&f));
	t.warnings = dup_noslash(fz_str(&f));
	t.raw = dup_noslash(fz_str_or_null(&f));
	t.master = dup_noslash(fz_str(&f));
	t.services = dup_noslash(fz_str(&f));
	if ((cfg = rd_config_defaults()) == NULL)
		abort();
	memset(&err, 0, sizeof(err));
	if (rd_postconf_view_text(&view, &t, &err) != 0 ||
	    rd_config_merge_view(cfg, &view, &err) != 0)
		fz_fail("postconf: merge failed: %s", err.text);
	rd_mta_view_free(&view);
	if (cfg->n_warnings > RD_CONFIG_WARNINGS_MAX)
		fz_fail("postconf: %zu warnings", cfg->n_warnings);
	for (i = 0; i < cfg->n_warnings; i++) {
		w = cfg->warnings[i];
		for (k = 0; w[k] != '\0'; k++)
			if ((unsigned char)w[k] < 0x20 ||
			    (unsigned char)w[k] > 0x7e)
				fz_fail("postconf: warning %zu: byte 0x%02x at "
					"%zu: %s",
				    i, (unsigned char)w[k], k, w);
	}
	if (cfg->n_submission_ports < 1 ||
	    cfg->n_submission_ports > RD_CONFIG_PORTS_MAX)
		fz_fail(
		    "postconf: %zu submission ports", cfg->n_submission_ports);
	for (i = 0; i < cfg->n_submission_ports; i++)
		if (cfg->submission_ports[i] == 0)
			fz_fail("postconf: submission port 0");
	rd_config_free(cfg);
	free(t.expanded);
	free(t.warnings);
	free(t.raw);
	free(t.master);
	free(t.services);
	fz_done(&f);
	return (0);
}

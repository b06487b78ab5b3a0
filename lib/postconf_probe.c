/*
 * postconf_probe.c - whether Postfix itself removes the copies of
 * relaydiag's header (HeaderName) that a client sends, so that relaydiag
 * need not see any header (StripForgedHeaders auto).
 *
 * Owns the probe: the forged lines it asks about and the reading of the
 * answers. The tables come from the view (postconf_master.c: the
 * header_checks that cleanup(8) applies to the mail of every smtpd
 * listener with milters, or why some of it escapes them); the question is
 * Postfix's own matching, postmap -q, run as postconf is (postconf_run.c):
 * an argv, no shell, a deadline. As cleanup does, the first table of the
 * list that answers decides; the answer must be IGNORE (the line is
 * removed). header_checks never see the headers a milter adds, so
 * relaydiag's own header stays.
 *
 * The probes are the ways a client may spell the field: the name as
 * configured with a diagnosis, in lower case without a space, and in
 * upper case with an empty value. A rule that matches only some of them
 * ("/^X-Relay-Diagnostic: diagnosis=/ IGNORE") does not count.
 * Threads: configuration time only (runs processes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/err.h"
#include "relaydiag/postconf.h"
#include "relaydiag/text.h"
#include "postconf_int.h"

#define PROBES 3
#define PROBE_LEN 320

/* probe_lines - the forged lines asked about */
static void
probe_lines(const char *name, char out[PROBES][PROBE_LEN])
{
	size_t i, n;

	(void)snprintf(
	    out[0], PROBE_LEN, "%s: diagnosis=relay.authorized-sasl", name);
	n = strlen(name) < PROBE_LEN - 8 ? strlen(name) : PROBE_LEN - 8;
	for (i = 0; i < n; i++) {
		out[1][i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
				       ? name[i] + 'a' - 'A'
				       : name[i]);
		out[2][i] = (char)(name[i] >= 'a' && name[i] <= 'z'
				       ? name[i] - 'a' + 'A'
				       : name[i]);
	}
	memcpy(out[1] + n, ":forged", 8);
	memcpy(out[2] + n, ":", 2);
}

/* first_word - the answer's first word, upper or lower case, into w */
static void
first_word(const char *text, char *w, size_t len)
{
	size_t n;

	text += strspn(text, " \t");
	n = strcspn(text, " \t\r\n");
	if (n >= len)
		n = len - 1;
	memcpy(w, text, n);
	w[n] = '\0';
}

/*
 * ask - what the list maps (cleanup's order) does with line: 1 IGNORE,
 * 0 anything else (why says what), -1 postmap failed (why says so)
 */
static int
ask(struct pc_ctx *x, const char *maps, const char *line, char *why,
    size_t whylen)
{
	const char *args[3];
	struct rd_buf out, err;
	char *copy, *p, *table, *fatal, word[32];
	int status, rc = 0;

	if ((copy = strdup(maps)) == NULL) {
		(void)snprintf(why, whylen, "out of memory");
		return (-1);
	}
	rd_buf_init(&out);
	rd_buf_init(&err);
	for (p = copy; (table = pc_token(&p)) != NULL;) {
		args[0] = "-q";
		args[1] = line;
		args[2] = table;
		rd_buf_reset(&out);
		rd_buf_reset(&err);
		status = -1;
		if (pc_run_status(x, args, 3, &out, &err, &status) != 0) {
			(void)snprintf(why, whylen, "%s", x->err->text);
			rc = -1;
			goto done;
		}
		/* postmap exits 1 both for "not found" and on a fatal error */
		if (err.data != NULL &&
		    (fatal = strstr(err.data, "fatal: ")) != NULL) {
			fatal[strcspn(fatal, "\r\n")] = '\0';
			(void)snprintf(
			    why, whylen, "postmap -q on %s: %s", table, fatal);
			rc = -1;
			goto done;
		}
		if (status == 1)
			continue; /* not found: the next table */
		if (status != 0) {
			(void)snprintf(why, whylen,
			    "postmap -q on %s failed (exit status %d)", table,
			    status);
			rc = -1;
			goto done;
		}
		first_word(
		    out.data != NULL ? out.data : "", word, sizeof(word));
		if (rd_strcasecmp_ascii(word, "IGNORE") == 0) {
			rc = 1;
			goto done;
		}
		(void)snprintf(why, whylen,
		    "header_checks table %s answers \"%s\" to \"%s\", not "
		    "IGNORE",
		    table, word, line);
		goto done;
	}
	(void)snprintf(why, whylen,
	    "no table of header_checks = %s removes \"%s\"", maps, line);
done:
	rd_buf_free(&out);
	rd_buf_free(&err);
	free(copy);
	return (rc);
}

int
rd_postconf_header_probe(const struct rd_mta_view *v, const char *header_name,
    const char *config_dir, const char *postmap_bin, char *why, size_t whylen)
{
	char lines[PROBES][PROBE_LEN];
	struct rd_buf list;
	struct rd_err e;
	struct pc_ctx x;
	size_t i, k;

	if (v->hc_off[0] != '\0' || v->n_hc_maps == 0) {
		(void)snprintf(why, whylen, "%s",
		    v->hc_off[0] != '\0' ? v->hc_off
					 : "no header_checks apply");
		return (0);
	}
	probe_lines(header_name, lines);
	memset(&x, 0, sizeof(x));
	rd_err_clear(&e);
	x.bin = postmap_bin != NULL ? postmap_bin : "postmap";
	x.dir = config_dir;
	x.err = &e;
	for (i = 0; i < v->n_hc_maps; i++)
		for (k = 0; k < PROBES; k++)
			if (ask(&x, v->hc_maps[i], lines[k], why, whylen) != 1)
				return (0);
	rd_buf_init(&list);
	for (i = 0; i < v->n_hc_maps; i++)
		rd_buf_printf(&list, "%s%s", i > 0 ? "; " : "", v->hc_maps[i]);
	(void)snprintf(
	    why, whylen, "Postfix's header_checks (%s) remove it", list.data);
	rd_buf_free(&list);
	return (1);
}

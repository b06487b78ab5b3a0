/*
 * templates.h - an admin's own texts for a diagnosis: TemplateFile.
 *
 * File syntax: "<id> <field> <text>" per line, field one of summary,
 * remedy_client, remedy_admin; the text runs to the end of the line and may
 * use the ${...} placeholders of diagnose.h. '#' at the start of a line
 * starts a comment. An unknown id or field is an error with file:line.
 * Threads: built once, then read-only.
 */
#ifndef RELAYDIAG_TEMPLATES_H
#define RELAYDIAG_TEMPLATES_H

#include "relaydiag/err.h"

struct rd_template {
	const char *id;      /* the catalogue's own string */
	const char *summary; /* NULL: the catalogue's */
	const char *remedy_client;
	const char *remedy_admin;
};

struct rd_templates;

/* rd_templates_load - read path; NULL with err (file:line) on an error */
struct rd_templates *rd_templates_load(const char *path, struct rd_err *err);
void rd_templates_free(struct rd_templates *t); /* NULL: no-op */

/* rd_templates_find - the overrides for id, or NULL (t may be NULL) */
const struct rd_template *rd_templates_find(
    const struct rd_templates *t, const char *id);

#endif

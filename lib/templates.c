/*
 * templates.c - an admin's own texts per diagnosis id (TemplateFile).
 *
 * Owns struct rd_templates: one entry per id that has an override, each
 * field a malloc'ed template. Filling the templates belongs to diagnose.c.
 * Threads: built once, then read-only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/catalogue.h"
#include "relaydiag/templates.h"
#include "relaydiag/text.h"

#define TEMPLATES_LINE_MAX 2048

struct rd_templates {
	struct rd_template *v;
	size_t n;
};

void
rd_templates_free(struct rd_templates *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free((char *)(uintptr_t)t->v[i].summary);
		free((char *)(uintptr_t)t->v[i].remedy_client);
		free((char *)(uintptr_t)t->v[i].remedy_admin);
	}
	free(t->v);
	free(t);
}

const struct rd_template *
rd_templates_find(const struct rd_templates *t, const char *id)
{
	size_t i;

	if (t == NULL || id == NULL)
		return (NULL);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].id, id) == 0)
			return (&t->v[i]);
	return (NULL);
}

/* templates_entry - the entry for a catalogue id, added when missing */
static struct rd_template *
templates_entry(struct rd_templates *t, const char *id)
{
	struct rd_template *v;
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].id == id)
			return (&t->v[i]);
	if ((v = reallocarray(t->v, t->n + 1, sizeof(*v))) == NULL)
		return (NULL);
	t->v = v;
	memset(&v[t->n], 0, sizeof(v[0]));
	v[t->n].id = id;
	return (&v[t->n++]);
}

static int
templates_line(struct rd_templates *t, const char *path, unsigned lineno,
    char *line, struct rd_err *err)
{
	const struct rd_catalogue_entry *e;
	struct rd_template *tp;
	const char **slot;
	char *id, *field, *text;
	size_t n;

	n = strlen(line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	id = line + strspn(line, " \t");
	if (*id == '\0' || *id == '#')
		return (0);
	field = id + strcspn(id, " \t");
	if (*field != '\0')
		*field++ = '\0';
	field += strspn(field, " \t");
	text = field + strcspn(field, " \t");
	if (*text != '\0')
		*text++ = '\0';
	text += strspn(text, " \t");
	if ((e = rd_catalogue_find(id)) == NULL) {
		rd_err_set(
		    err, path, lineno, "unknown diagnosis id \"%s\"", id);
		return (-1);
	}
	if (*text == '\0') {
		rd_err_set(err, path, lineno,
		    "%s: no text; write: <id> "
		    "summary|remedy_client|remedy_admin <text>",
		    id);
		return (-1);
	}
	if ((tp = templates_entry(t, e->id)) == NULL) {
		rd_err_set(err, path, lineno, "out of memory");
		return (-1);
	}
	if (strcmp(field, "summary") == 0)
		slot = &tp->summary;
	else if (strcmp(field, "remedy_client") == 0)
		slot = &tp->remedy_client;
	else if (strcmp(field, "remedy_admin") == 0)
		slot = &tp->remedy_admin;
	else {
		rd_err_set(err, path, lineno,
		    "%s: unknown field \"%s\"; "
		    "expected summary, remedy_client or remedy_admin",
		    id, field);
		return (-1);
	}
	if (*slot != NULL) {
		rd_err_set(err, path, lineno, "%s %s: given twice", id, field);
		return (-1);
	}
	*slot = rd_strdup_max(text, RD_DIAG_TEXT_MAX - 1);
	return (0);
}

struct rd_templates *
rd_templates_load(const char *path, struct rd_err *err)
{
	struct rd_templates *t;
	FILE *fp;
	char line[TEMPLATES_LINE_MAX + 2];
	unsigned lineno = 0;
	size_t n;

	if ((fp = fopen(path, "re")) == NULL) {
		rd_err_set(err, path, 0, "cannot open: %s", strerror(errno));
		return (NULL);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		fclose(fp);
		rd_err_set(err, path, 0, "out of memory");
		return (NULL);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(fp)) {
			rd_err_set(err, path, lineno,
			    "line longer than %d "
			    "bytes",
			    TEMPLATES_LINE_MAX);
			goto fail;
		}
		if (templates_line(t, path, lineno, line, err) != 0)
			goto fail;
	}
	fclose(fp);
	return (t);
fail:
	fclose(fp);
	rd_templates_free(t);
	return (NULL);
}

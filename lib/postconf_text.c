/*
 * postconf_text.c - cutting what postconf prints into lines, words and
 * "name = value" pairs, and the view's warnings (made safe to log) for
 * what the import cannot use: what postconf.c and postconf_master.c share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "relaydiag/buf.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/file.h"
#include "relaydiag/netset.h"
#include "relaydiag/postconf.h"
#include "relaydiag/text.h"
#include "postconf_int.h"

void
pc_warn(struct pc_ctx *x, const char *fmt, ...)
{
	struct rd_mta_view *v = x->view;
	struct rd_buf b;
	va_list ap;
	char *s, *p;

	if (v->nwarnings >= RD_MTA_WARNINGS_MAX) {
		v->dropped++;
		return;
	}
	rd_buf_init(&b);
	rd_buf_adds(&b, PC_KEY ": ");
	va_start(ap, fmt);
	rd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	s = rd_buf_steal(&b);
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	v->warnings[v->nwarnings++] = s;
}

/* pc_line - the next line of *pp, NUL-terminated in place; NULL at the end */
char *
pc_line(char **pp)
{
	char *p = *pp, *e;

	if (*p == '\0')
		return (NULL);
	if ((e = strchr(p, '\n')) != NULL) {
		*e = '\0';
		*pp = e + 1;
	} else
		*pp = p + strlen(p);
	return (p);
}

/*
 * pc_token - the next entry of a Postfix list in *pp (commas and/or white
 * space; "{ ... }" keeps its separators, as in "inline:{ a, b }"),
 * NUL-terminated in place; NULL at the end.
 */
char *
pc_token(char **pp)
{
	char *p = *pp, *start;
	int depth = 0;

	p += strspn(p, PC_SEP);
	if (*p == '\0') {
		*pp = p;
		return (NULL);
	}
	for (start = p; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(PC_SEP, *p) != NULL)
			break;
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return (start);
}

/*
 * pc_split - "name = value" (postconf's output; "name =" when empty):
 * *value set, the name NUL-terminated in place; -1 for another line.
 */
int
pc_split(char *line, char **value)
{
	char *eq;
	size_t len;

	if ((eq = strstr(line, " = ")) != NULL) {
		*eq = '\0';
		*value = eq + 3;
		return (0);
	}
	len = strlen(line);
	if (len >= 2 && strcmp(line + len - 2, " =") == 0) {
		line[len - 2] = '\0';
		*value = line + len; /* "" */
		return (0);
	}
	return (-1);
}

/* pc_has_word - whether the list value has the entry word */
bool
pc_has_word(const char *value, const char *word)
{
	char *copy, *p, *tok;
	bool found = false;

	if (value == NULL || (copy = strdup(value)) == NULL)
		return (false);
	for (p = copy; !found && (tok = pc_token(&p)) != NULL;)
		found = strcmp(tok, word) == 0;
	free(copy);
	return (found);
}

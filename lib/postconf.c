/*
 * postconf.c - ImportPostfix: relaydiag's view of the MTA taken from
 * Postfix's own configuration, through postconf(1), so that the two agree
 * without copying by hand.
 *
 * Owns reading what postconf prints (postconf_run.c runs it,
 * postconf_master.c reads the listeners of master.cf). What the lists mean
 * belongs to domainset.c and netset.c; the ImportPostfix key to config.c.
 *
 * postconf runs (posix_spawnp: an argv, no shell; stdin /dev/null; a
 * deadline of PC_TIMEOUT_MS, then SIGKILL) with -c DIR when a directory is
 * given:
 *   postconf -x mydestination ...     the main.cf values, $names expanded
 *   postconf mydestination ...        the raw values, only when postconf
 *                                     warned "undefined parameter" (to say
 *                                     which of ours it affects)
 *   postconf -M                       master.cf services, one a line
 *   postconf -P -x                    their "-o name=value" overrides
 * Everything is read before cfg is touched, so a postconf that fails leaves
 * cfg as it was.
 *
 * Postfix list syntax (postconf(5)): entries separated by commas and/or
 * white space, "{ ... }" grouping; "/file/name" is a file of entries (read
 * here, nested up to PC_FILE_DEPTH); "type:table" is a lookup table, and
 * "!entry" a negation: neither can be expanded, so each becomes a warning
 * in the view's warnings that says what to list by hand, as does a $name that
 * postconf expanded to nothing because it is not defined. A domain in
 * relay_domains also matches its sub-domains when relay_domains is in
 * parent_domain_matches_subdomains (Postfix's default): ".domain" is added.
 *
 * Threads: configuration time only; touches only its arguments, but spawns
 * a process and waits for it, so SIGCHLD must not be ignored (SIG_IGN
 * would reap the child before waitpid sees its status).
 * Memory: output is read into rd_bufs, bounded by PC_OUT_MAX; warnings are
 * strdup'ed into the view; rd_config_merge_view hands them to cfg.
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
const char *const pc_names[PC_NPARAMS] = {
    "mydestination",
    "virtual_mailbox_domains",
    "virtual_alias_domains",
    "relay_domains",
    "mynetworks",
    "smtpd_tls_auth_only",
    "myhostname",
    "parent_domain_matches_subdomains",
    "smtpd_sasl_auth_enable",
    "smtpd_tls_security_level",
    "smtpd_tls_wrappermode",
    "smtpd_client_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "relayhost",
    "header_checks",
    "receive_override_options",
    "smtpd_milters",
    "cleanup_service_name",
};

/* What postconf -x says on stderr about a $name it expanded to nothing. */
static const char pc_undef_mark[] = "undefined parameter: ";

/* pc_parse_params - postconf's "name = value" lines for our names */
static void
pc_parse_params(char *text, char *vals[PC_NPARAMS])
{
	char *p = text, *line, *value;
	size_t i;

	for (i = 0; i < PC_NPARAMS; i++)
		vals[i] = NULL;
	while ((line = pc_line(&p)) != NULL) {
		if (pc_split(line, &value) == -1)
			continue;
		for (i = 0; i < PC_NPARAMS; i++)
			if (strcmp(line, pc_names[i]) == 0)
				vals[i] = value;
	}
}

/* pc_is_table - "type:name", Postfix's lookup table syntax */
static bool
pc_is_table(const char *entry)
{
	const char *p = entry;

	if (!(*p >= 'a' && *p <= 'z'))
		return (false);
	while (
	    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	return (*p == ':' && p[1] != ':'); /* not "fe::1" */
}

static void pc_entry(struct pc_ctx *x, const struct pc_list *l,
    const char *entry, const char *origin, int depth);

/* pc_file - a "/file/name" entry: its entries, one or more per line */
static void
pc_file(struct pc_ctx *x, const struct pc_list *l, const char *path, int depth)
{
	struct rd_buf text, where;
	char ebuf[128], chunk[4096];
	char *p, *line, *q, *tok;
	unsigned lineno = 0;
	size_t n;
	FILE *fp;

	if (depth >= PC_FILE_DEPTH) {
		pc_warn(x,
		    "%s: \"%s\": files nested more than %d deep; list the %s "
		    "in %s",
		    l->param, path, PC_FILE_DEPTH, l->what, l->key);
		return;
	}
	if ((fp = rd_file_fopen(path, NULL)) == NULL) {
		pc_warn(x, "%s: cannot read %s: %s; list the %s in %s",
		    l->param, path, rd_file_strerror(errno, ebuf, sizeof(ebuf)),
		    l->what, l->key);
		return;
	}
	rd_buf_init(&text);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 &&
	       text.len + n <= PC_FILE_MAX)
		rd_buf_add(&text, chunk, n);
	if (n > 0 || ferror(fp))
		pc_warn(x,
		    "%s: %s: %s; its entries are ignored: list the %s in %s",
		    l->param, path, n > 0 ? "larger than 1 MiB" : "read error",
		    l->what, l->key);
	(void)fclose(fp);
	if (n > 0) {
		rd_buf_free(&text);
		return;
	}
	rd_buf_init(&where);
	for (p = text.data; (line = pc_line(&p)) != NULL;) {
		lineno++;
		q = line + strspn(line, " \t\r");
		if (*q == '#')
			continue;
		rd_buf_reset(&where);
		rd_buf_printf(&where, " (%s:%u)", path, lineno);
		while ((tok = pc_token(&q)) != NULL)
			pc_entry(x, l, tok, where.data, depth + 1);
	}
	rd_buf_free(&where);
	rd_buf_free(&text);
}

/*
 * pc_entry - one list entry into l's set, or a warning that says what
 * the admin must list by hand. origin: "" or " (file:line)".
 */
static void
pc_entry(struct pc_ctx *x, const struct pc_list *l, const char *entry,
    const char *origin, int depth)
{
	struct rd_err e;
	char *dot;

	if (entry[0] == '!') {
		pc_warn(x,
		    "%s: \"%s\"%s: negated entries cannot be imported "
		    "(relaydiag ignores it); list the %s in %s",
		    l->param, entry, origin, l->what, l->key);
		return;
	}
	if (entry[0] == '/') {
		pc_file(x, l, entry, depth);
		return;
	}
	if (strchr(entry, '$') != NULL) {
		pc_warn(x,
		    "%s: \"%s\"%s: postconf left it unexpanded; list the %s "
		    "in %s",
		    l->param, entry, origin, l->what, l->key);
		return;
	}
	rd_err_clear(&e);
	if (l->net != NULL) {
		if (rd_netset_add(l->net, entry, &e) == 0)
			return;
	} else if (!pc_is_table(entry)) {
		if (rd_domainset_add(l->dom, entry, &e) == 0) {
			/* parent_domain_matches_subdomains: ".entry" too */
			if (!l->parent_matches || entry[0] == '.')
				return;
			if ((dot = malloc(strlen(entry) + 2)) == NULL)
				return;
			dot[0] = '.';
			(void)strcpy(dot + 1, entry);
			(void)rd_domainset_add(l->dom, dot, &e);
			free(dot);
			return;
		}
	}
	if (pc_is_table(entry))
		pc_warn(x,
		    "%s: lookup table %s%s cannot be expanded; list its %s in "
		    "%s",
		    l->param, entry, origin, l->what, l->key);
	else
		pc_warn(x, "%s: \"%s\"%s ignored: %s", l->param, entry, origin,
		    e.text[0] != '\0' ? e.text : "not usable");
}

int
pc_list_value(struct pc_ctx *x, const struct pc_list *l, const char *value)
{
	char *copy, *p, *tok;

	if (value == NULL)
		return (0);
	if ((copy = strdup(value)) == NULL)
		return (-1);
	for (p = copy; (tok = pc_token(&p)) != NULL;)
		pc_entry(x, l, tok, "", 0);
	free(copy);
	return (0);
}

/* pc_refers - whether value refers to $name, ${name} or $(name) */
static bool
pc_refers(const char *value, const char *name, size_t nlen)
{
	const char *p;
	char c;

	for (p = value; (p = strchr(p, '$')) != NULL; p++) {
		if ((p[1] == '{' || p[1] == '(') &&
		    strncmp(p + 2, name, nlen) == 0 &&
		    (p[2 + nlen] == '}' || p[2 + nlen] == ')'))
			return (true);
		if (strncmp(p + 1, name, nlen) == 0) {
			c = p[1 + nlen];
			if (!((c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '_'))
				return (true);
		}
	}
	return (false);
}

/* pc_said_before - whether errtext names name as undefined before name */
static bool
pc_said_before(const char *errtext, const char *name, size_t nlen)
{
	const char *p;

	/* Past each mark, never past the end (found by fuzz_postconf: a
	   mark at the very end made p++ step over the NUL). */
	for (p = errtext; (p = strstr(p, pc_undef_mark)) != NULL;) {
		p += sizeof(pc_undef_mark) - 1;
		if (p >= name)
			break;
		if (strncmp(p, name, nlen) == 0 &&
		    strchr(" \t\r\n", p[nlen]) != NULL)
			return (true);
	}
	return (false);
}

/*
 * pc_undefined - postconf -x expands an undefined $name to nothing, with
 * a warning on stderr that names the parameter but not where it is used:
 * find which of our raw values refer to it.
 */
static int
pc_undefined(struct pc_ctx *x, const char *errtext, const struct pc_list *lists,
    size_t nlists)
{
	const char *args[PC_NPARAMS];
	char *raw[PC_NPARAMS];
	struct rd_buf out;
	const char *p, *name;
	size_t i, k, nlen;

	if (strstr(errtext, pc_undef_mark) == NULL)
		return (0);
	for (i = 0; i < PC_NPARAMS; i++)
		args[i] = pc_names[i];
	rd_buf_init(&out);
	if (x->bin == NULL) { /* rd_postconf_merge: the text is given */
		if (x->raw == NULL)
			return (0);
		pc_parse_params(x->raw, raw);
	} else {
		if (pc_run(x, args, PC_NPARAMS, &out, NULL) == -1) {
			rd_buf_free(&out);
			return (-1);
		}
		pc_parse_params(out.data, raw);
	}
	for (p = errtext; (p = strstr(p, pc_undef_mark)) != NULL; p += nlen) {
		name = p += sizeof(pc_undef_mark) - 1;
		nlen = strcspn(name, " \t\r\n");
		if (pc_said_before(errtext, name, nlen))
			continue; /* postconf repeats itself */
		for (i = 0; i < nlists; i++) {
			k = lists[i].idx;
			if (raw[k] == NULL || !pc_refers(raw[k], name, nlen))
				continue;
			pc_warn(x,
			    "%s: $%.*s is not defined, so postconf expands "
			    "it to nothing; define it in main.cf, or list the "
			    "%s in %s",
			    lists[i].param, (int)nlen, name, lists[i].what,
			    lists[i].key);
		}
	}
	rd_buf_free(&out);
	return (0);
}

static int pc_merge(struct pc_ctx *x, struct rd_postconf_text *t);

/* pc_ctx_init - a context filling v (initialized here); 0, or -1 with err */
static int
pc_ctx_init(struct pc_ctx *x, struct rd_mta_view *v, struct rd_err *err)
{
	if (err != NULL)
		rd_err_clear(err);
	memset(x, 0, sizeof(*x));
	x->view = v;
	x->err = err;
	if (rd_mta_view_init(v) != 0) {
		rd_err_set(err, PC_KEY, 0, "out of memory");
		return (-1);
	}
	return (0);
}

int
rd_postconf_view(struct rd_mta_view *v, const char *config_dir,
    const char *postconf_bin, struct rd_err *err)
{
	static const char *const args_m[] = {"-M"};
	static const char *const args_p[] = {"-P", "-x"};
	const char *args_x[PC_NPARAMS + 1];
	struct rd_postconf_text t;
	struct pc_ctx x;
	struct rd_buf xout, xerr, mout, pout;
	char ebuf[128];
	struct stat st;
	size_t i;
	int rc = -1;

	if (pc_ctx_init(&x, v, err) != 0)
		return (-1);
	x.bin = postconf_bin != NULL ? postconf_bin : "postconf";
	x.dir = config_dir;
	if (config_dir != NULL && stat(config_dir, &st) == -1) {
		rd_err_set(err, config_dir, 0,
		    "%s; ImportPostfix wants Postfix's configuration directory "
		    "(the one with main.cf, such as /etc/postfix), or yes",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (config_dir != NULL && !S_ISDIR(st.st_mode)) {
		rd_err_set(err, config_dir, 0,
		    "not a directory; ImportPostfix wants Postfix's "
		    "configuration directory (the one with main.cf), or yes");
		return (-1);
	}

	/* Read everything first: a failure leaves cfg as it was. */
	rd_buf_init(&xout);
	rd_buf_init(&xerr);
	rd_buf_init(&mout);
	rd_buf_init(&pout);
	args_x[0] = "-x";
	for (i = 0; i < PC_NPARAMS; i++)
		args_x[i + 1] = pc_names[i];
	if (pc_run(&x, args_x, PC_NPARAMS + 1, &xout, &xerr) == -1 ||
	    pc_run(&x, args_m, 1, &mout, NULL) == -1 ||
	    pc_run(&x, args_p, 2, &pout, NULL) == -1)
		goto done;
	t.expanded = xout.data;
	t.warnings = xerr.data;
	t.raw = NULL; /* pc_undefined runs postconf for it */
	t.master = mout.data;
	t.services = pout.data;
	rc = pc_merge(&x, &t);
done:
	rd_buf_free(&xout);
	rd_buf_free(&xerr);
	rd_buf_free(&mout);
	rd_buf_free(&pout);
	return (rc);
}

int
rd_postconf_view_text(
    struct rd_mta_view *v, struct rd_postconf_text *t, struct rd_err *err)
{
	struct pc_ctx x;

	if (pc_ctx_init(&x, v, err) != 0)
		return (-1);
	x.raw = t->raw;
	return (pc_merge(&x, t));
}

/*
 * pc_merge - parse what postconf printed into x->view: the
 * part of the import that reads text, kept apart from the part that runs
 * postconf so that it can be fuzzed (rd_postconf_view_text)
 */
static int
pc_merge(struct pc_ctx *x, struct rd_postconf_text *t)
{
	struct rd_mta_view *v = x->view;
	struct pc_list lists[5];
	char *vals[PC_NPARAMS], empty[1] = "";
	size_t i, nlists = 0;

	pc_parse_params(t->expanded != NULL ? t->expanded : empty, vals);
	if (vals[PC_MYNET] != NULL && (v->trusted = rd_netset_new()) == NULL)
		goto oom;
	lists[nlists++] = (struct pc_list){PC_MYDEST, "mydestination",
	    "LocalDomains", "domains", v->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_VMBOX, "virtual_mailbox_domains",
	    "LocalDomains", "domains", v->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_VALIAS, "virtual_alias_domains",
	    "LocalDomains", "domains", v->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_RELAY, "relay_domains",
	    "RelayDomains", "domains", v->relay_domains, NULL,
	    pc_has_word(vals[PC_PARENT], "relay_domains")};
	lists[nlists++] = (struct pc_list){PC_MYNET, "mynetworks",
	    "TrustedNetworks", "networks", NULL, v->trusted, false};
	if (pc_undefined(x, t->warnings != NULL ? t->warnings : empty, lists,
		nlists) == -1)
		return (-1);
	for (i = 0; i < nlists; i++) {
		if (lists[i].dom == NULL && lists[i].net == NULL)
			continue; /* mynetworks not in the output */
		if (pc_list_value(x, &lists[i], vals[lists[i].idx]) == -1)
			goto oom;
	}
	if (vals[PC_TLSAUTH] != NULL) {
		if (rd_strcasecmp_ascii(vals[PC_TLSAUTH], "yes") == 0)
			v->tls_auth_only = 1;
		else if (rd_strcasecmp_ascii(vals[PC_TLSAUTH], "no") == 0)
			v->tls_auth_only = 0;
		else
			pc_warn(x,
			    "smtpd_tls_auth_only: \"%s\" is not yes or no; "
			    "set TLSAuthOnly",
			    vals[PC_TLSAUTH]);
	}
	if (vals[PC_MYHOST] != NULL &&
	    rd_strlcpy(v->myhostname, vals[PC_MYHOST], sizeof(v->myhostname)) >=
		sizeof(v->myhostname)) {
		pc_warn(x, "myhostname: longer than %zu bytes; set MXHosts",
		    sizeof(v->myhostname) - 1);
		v->myhostname[0] = '\0';
	}
	if (vals[PC_RELAYHOST] != NULL && vals[PC_RELAYHOST][0] != '\0') {
		/* "[host]:port", "host:port", "host": the host */
		const char *h = vals[PC_RELAYHOST];
		size_t n;

		if (*h == '[')
			n = strcspn(++h, "]");
		else
			n = strcspn(h, ":, \t");
		if (n == 0 || n >= sizeof(v->relayhost))
			pc_warn(x,
			    "relayhost: \"%s\" not understood; list it in "
			    "RelayHosts",
			    vals[PC_RELAYHOST]);
		else {
			memcpy(v->relayhost, h, n);
			v->relayhost[n] = '\0';
		}
	}
	pc_services(x, t->master != NULL ? t->master : empty,
	    t->services != NULL ? t->services : empty, vals);
	return (0);
oom:
	rd_err_set(
	    x->err, x->dir != NULL ? x->dir : PC_KEY, 0, "out of memory");
	return (-1);
}

int
rd_mta_view_init(struct rd_mta_view *v)
{
	memset(v, 0, sizeof(*v));
	v->tls_auth_only = -1;
	if ((v->local_domains = rd_domainset_new()) == NULL ||
	    (v->relay_domains = rd_domainset_new()) == NULL) {
		rd_mta_view_free(v);
		return (-1);
	}
	return (0);
}

void
rd_mta_view_free(struct rd_mta_view *v)
{
	size_t i;

	rd_domainset_free(v->local_domains);
	rd_domainset_free(v->relay_domains);
	rd_netset_free(v->trusted);
	for (i = 0; i < v->nlisteners; i++)
		rd_listener_clear(&v->listeners[i]);
	for (i = 0; i < v->nwarnings; i++)
		free(v->warnings[i]);
	for (i = 0; i < v->n_hc_maps; i++)
		free(v->hc_maps[i]);
	memset(v, 0, sizeof(*v));
}

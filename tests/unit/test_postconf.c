/*
 * test_postconf.c - ImportPostfix against the real postconf(1): each test
 * writes a private Postfix configuration directory (main.cf, master.cf,
 * list files) under /tmp and imports it. /etc/postfix is never read or
 * written, and no Postfix needs to run.
 *
 * Cases: the seed report's shapes (mydestination with $names, a mysql
 * table, mynetworks with IPv6, smtpd_tls_auth_only, submission listeners
 * by name and by -o); list syntax (files of entries, negation, tables,
 * inline tables, undefined $names, host bits); near-miss listeners; the
 * warning cap; and clean errors for a missing postconf, a missing or
 * incomplete directory, and a postconf that dies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/netset.h"
#include "relaydiag/postconf.h"
#include "testutil.h"

#define POSTCONF "/usr/sbin/postconf"

struct fixture {
	char dir[64]; /* tu_tmpdir: the Postfix configuration directory */
	struct rd_config *cfg;
};

/* path_in - dir/name into out */
static const char *
path_in(const struct fixture *f, const char *name, char *out, size_t len)
{
	return (tu_path(out, len, f->dir, name));
}

/* put - write dir/name; "%D" in text becomes the directory */
/* expand_into - text with "%D" as the fixture's directory, into b */
static void
expand_into(const struct fixture *f, const char *text, struct rd_buf *b)
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'D') {
			rd_buf_adds(b, f->dir);
			p++;
		} else
			rd_buf_addc(b, *p);
	}
	if (b->data == NULL)
		rd_buf_adds(b, "");
}

static void
put(const struct fixture *f, const char *name, const char *text)
{
	struct rd_buf b;
	char path[256];

	rd_buf_init(&b);
	expand_into(f, text, &b);
	tu_write_file(path_in(f, name, path, sizeof(path)), b.data);
	rd_buf_free(&b);
	/* Postfix waits (up to 2 s) for a file modified this very second. */
	tu_backdate(path, 60);
}

/* expand - text with "%D" as the fixture's directory, into out */
static void
expand(const struct fixture *f, const char *text, char *out, size_t len)
{
	struct rd_buf b;

	rd_buf_init(&b);
	expand_into(f, text, &b);
	(void)snprintf(out, len, "%s", b.data);
	rd_buf_free(&b);
}

static int
setup(void **state)
{
	struct fixture *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	tu_tmpdir(f->dir, sizeof(f->dir), "rd-test-postconf");
	assert_non_null(f->cfg = rd_config_defaults());
	/* MXHosts given and empty: the import may fill it. */
	rd_domainset_free(f->cfg->mx_hosts);
	assert_non_null(f->cfg->mx_hosts = rd_domainset_new());
	/* postconf from PATH when the test passes NULL. */
	assert_int_equal(setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1), 0);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	/* Freed here whether or not rd_config_free knows these fields. */
	for (i = 0; i < f->cfg->n_warnings; i++) {
		free(f->cfg->warnings[i]);
		f->cfg->warnings[i] = NULL;
	}
	f->cfg->n_warnings = 0;
	rd_domainset_free(f->cfg->mx_hosts);
	f->cfg->mx_hosts = NULL;
	rd_config_free(f->cfg);
	tu_rmtree(f->dir);
	free(f);
	return (0);
}

/* import - rd_postconf_import on the fixture's directory; must succeed */
static void
import(struct fixture *f, const char *bin)
{
	struct rd_err e;
	char buf[1024];

	rd_err_clear(&e);
	if (rd_config_import_postfix(f->cfg, f->dir, bin, &e) != 0)
		fail_msg("import: %s", rd_err_format(&e, buf, sizeof(buf)));
}

/* has_warning - whether some warning contains text */
static bool
has_warning(const struct rd_config *cfg, const char *text)
{
	size_t i;

	for (i = 0; i < cfg->n_warnings; i++)
		if (strstr(cfg->warnings[i], text) != NULL)
			return (true);
	return (false);
}

/* dump_warnings - for a failure message */
static void
dump_warnings(const struct rd_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_warnings; i++)
		print_error("  warning: %s\n", cfg->warnings[i]);
}

/* kind: 'L' local domain, 'R' relay domain, 'N' network, 'M' MX host */
struct expect {
	const char *name;
	int kind;
	const char *value;
	bool want;
};

/* check - a table of expectations against cfg; the failures, printed */
static int
check(const struct rd_config *cfg, const struct expect *x, size_t n)
{
	bool got = false;
	int nfail = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		switch (x[i].kind) {
		case 'L':
			got =
			    rd_domainset_match(cfg->local_domains, x[i].value);
			break;
		case 'R':
			got =
			    rd_domainset_match(cfg->relay_domains, x[i].value);
			break;
		case 'N':
			got =
			    rd_netset_match(cfg->trusted_networks, x[i].value);
			break;
		case 'M':
			got = rd_domainset_match(cfg->mx_hosts, x[i].value);
			break;
		default:
			fail_msg("bad kind %c", x[i].kind);
		}
		if (got != x[i].want) {
			print_error("%s: %s: got %s, want %s\n", x[i].name,
			    x[i].value, got ? "yes" : "no",
			    x[i].want ? "yes" : "no");
			nfail++;
		}
	}
	return (nfail);
}

/* check_ports - cfg's submission ports are exactly want[0..n) in order */
static void
check_ports(const struct rd_config *cfg, const unsigned *want, size_t n)
{
	size_t i;

	for (i = 0; i < cfg->n_submission_ports; i++)
		print_error("  port: %u\n", cfg->submission_ports[i]);
	assert_int_equal(cfg->n_submission_ports, n);
	for (i = 0; i < n; i++)
		assert_int_equal(cfg->submission_ports[i], want[i]);
}

/* The shapes of the seed report (a Postfix + Dovecot + MySQL host). */
static const char seed_main_cf[] =
    "compatibility_level = 3.6\n"
    "myhostname = mail.example.org\n"
    "mydomain = example.org\n"
    "mydestination = $myhostname, localhost.$mydomain, $mydomain, "
    "localhost\n"
    "virtual_mailbox_domains = "
    "mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf\n"
    "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128\n"
    "smtpd_tls_auth_only = yes\n";

static const char seed_master_cf[] =
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "submission inet n - y - - smtpd -o smtpd_tls_security_level=encrypt "
    "-o smtpd_sasl_auth_enable=yes\n"
    "127.0.0.1:2587 inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_tls_security_level=encrypt\n"
    "pickup    unix  n       -       y       60      1       pickup\n";

static void
test_seed_report_shapes(void **state)
{
	static const struct expect x[] = {
	    {"$myhostname expanded", 'L', "mail.example.org", true},
	    {"localhost.$mydomain expanded", 'L', "localhost.example.org",
		true},
	    {"$mydomain expanded", 'L', "example.org", true},
	    {"plain entry", 'L', "localhost", true},
	    {"near miss: a sub-domain of $mydomain", 'L', "other.example.org",
		false},
	    {"near miss: not a relay domain", 'R', "example.org", false},
	    {"mynetworks: IPv4 loopback", 'N', "127.0.0.1", true},
	    {"mynetworks: IPv4-mapped loopback", 'N', "::ffff:127.0.0.9", true},
	    {"mynetworks: IPv6 loopback", 'N', "::1", true},
	    {"near miss: a LAN address", 'N', "10.0.0.1", false},
	    {"myhostname names this server's MX", 'M', "mail.example.org",
		true},
	};
	static const unsigned ports[] = {587, 2587};
	struct fixture *f = *state;
	int nfail;

	put(f, "main.cf", seed_main_cf);
	put(f, "master.cf", seed_master_cf);
	f->cfg->tls_auth_only = false;
	import(f, POSTCONF);
	nfail = check(f->cfg, x, sizeof(x) / sizeof(x[0]));
	assert_true(f->cfg->tls_auth_only);
	check_ports(f->cfg, ports, 2);
	if (f->cfg->n_warnings != 1 ||
	    strcmp(f->cfg->warnings[0],
		"ImportPostfix: virtual_mailbox_domains: lookup table "
		"mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf cannot be "
		"expanded; list its domains in LocalDomains") != 0) {
		dump_warnings(f->cfg);
		fail_msg("want exactly the mysql warning, got %zu warnings",
		    f->cfg->n_warnings);
	}
	if (nfail > 0)
		fail_msg("%d cases failed", nfail);
}

static void
test_postconf_from_path(void **state)
{
	struct fixture *f = *state;

	put(f, "main.cf", seed_main_cf);
	put(f, "master.cf", seed_master_cf);
	import(f, NULL);
	assert_true(rd_domainset_match(f->cfg->local_domains, "example.org"));
}

static void
test_list_syntax(void **state)
{
	static const struct expect x[] = {
	    {"a file of entries, two on a line", 'L', "file1.example", true},
	    {"a file of entries, second", 'L', "file2.example", true},
	    {"a file of entries, after a comment", 'L', "fromfile.example",
		true},
	    {"near miss: the negated entry is not added", 'L',
		"blocked.example", false},
	    {"next to an undefined $name", 'L', "alias.example", true},
	    {"near miss: an inline table's key is not expanded", 'L',
		"a.example", false},
	    {"relay_domains entry", 'R', "relay.example", true},
	    {"relay_domains: parent_domain_matches_subdomains", 'R',
		"sub.relay.example", true},
	    {"mynetworks: network", 'N', "192.0.2.9", true},
	    {"mynetworks: from the file", 'N', "198.51.100.3", true},
	    {"mynetworks: host from the file", 'N', "203.0.113.7", true},
	    {"mynetworks: IPv6 network", 'N', "2001:db8::1", true},
	    {"mynetworks replaces the default list", 'N', "127.0.0.1", false},
	    {"near miss: the entry with host bits is skipped", 'N', "10.9.9.9",
		false},
	};
	static const char *const warnings[] = {
	    "mydestination: \"!blocked.example\": negated entries cannot "
	    "be imported",
	    "virtual_alias_domains: $undefined_thing is not defined",
	    "virtual_alias_domains: lookup table inline:{ a.example, "
	    "b.example } cannot be expanded; list its domains in "
	    "LocalDomains",
	    "relay_domains: lookup table hash:/etc/postfix/relay cannot be "
	    "expanded; list its domains in RelayDomains",
	    "mynetworks: \"10.1.2.3/8\" ignored: host bits set",
	    "mynetworks: lookup table cidr:/etc/postfix/nets.cidr cannot "
	    "be expanded; list its networks in TrustedNetworks",
	    "mydestination: \"!negfile.example\" (",
	    "dest.list:3)",
	};
	struct fixture *f = *state;
	size_t i;
	int nfail;

	put(f, "main.cf",
	    "compatibility_level = 3.6\n"
	    "myhostname = mx.example.net\n"
	    "mydestination = %D/dest.list, !blocked.example\n"
	    "virtual_alias_domains = $undefined_thing, "
	    "inline:{ a.example, b.example } alias.example\n"
	    "relay_domains = relay.example, hash:/etc/postfix/relay\n"
	    "mynetworks = 192.0.2.0/24, %D/nets.list [2001:db8::]/32 "
	    "10.1.2.3/8 cidr:/etc/postfix/nets.cidr\n"
	    "smtpd_tls_auth_only = no\n"
	    "unrelated = $another_undefined\n");
	put(f, "dest.list",
	    "file1.example file2.example\n"
	    "# a comment\n"
	    "  fromfile.example, !negfile.example\n");
	put(f, "nets.list", "198.51.100.0/24\n# a comment\n203.0.113.7\n");
	put(f, "master.cf", "smtp inet n - y - - smtpd\n");
	f->cfg->tls_auth_only = true;
	import(f, POSTCONF);
	nfail = check(f->cfg, x, sizeof(x) / sizeof(x[0]));
	assert_false(f->cfg->tls_auth_only);
	for (i = 0; i < sizeof(warnings) / sizeof(warnings[0]); i++)
		if (!has_warning(f->cfg, warnings[i])) {
			print_error("missing warning: %s\n", warnings[i]);
			nfail++;
		}
	/* An undefined $name in a parameter we do not read: not ours. */
	if (has_warning(f->cfg, "another_undefined")) {
		print_error("warned about a parameter we do not read\n");
		nfail++;
	}
	if (f->cfg->n_warnings != sizeof(warnings) / sizeof(warnings[0]) - 1) {
		print_error("%zu warnings\n", f->cfg->n_warnings);
		nfail++;
	}
	if (nfail > 0) {
		dump_warnings(f->cfg);
		fail_msg("%d cases failed", nfail);
	}
}

static void
test_submission_listeners(void **state)
{
	/* smtps (wrapper mode) and [::1]:10587 (-o via $name); the rest not */
	static const unsigned ports[] = {465, 10587};
	struct fixture *f = *state;

	put(f, "main.cf",
	    "compatibility_level = 3.6\n"
	    "mua_level = encrypt\n");
	put(f, "master.cf",
	    "smtp inet n - y - - smtpd\n"
	    "smtps inet n - y - - smtpd -o smtpd_tls_wrappermode=yes\n"
	    "[::1]:10587 inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
	    "-o smtpd_tls_security_level=$mua_level\n"
	    "# near misses\n"
	    "127.0.0.1:2526 inet n - n - - smtpd "
	    "-o smtpd_sasl_auth_enable=yes\n"
	    "127.0.0.1:2527 inet n - n - - smtpd "
	    "-o smtpd_tls_security_level=encrypt\n"
	    "127.0.0.1:2528 inet n - n - - smtpd "
	    "-o smtpd_sasl_auth_enable=yes -o smtpd_tls_security_level=may\n"
	    "127.0.0.1:2465 inet n - n - 1 postscreen "
	    "-o smtpd_tls_wrappermode=yes\n"
	    "submission unix n - n - - smtpd\n"
	    "# the same port again, by its /etc/services name\n"
	    "localhost:submissions inet n - n - - smtpd\n"
	    "  -o smtpd_tls_wrappermode=yes\n");
	import(f, POSTCONF);
	check_ports(f->cfg, ports, 2);
	if (f->cfg->n_warnings != 0) {
		dump_warnings(f->cfg);
		fail_msg("want no warnings");
	}
}

/*
 * Each smtpd listener carries main.cf's settings overridden by its own
 * -o options ($names expanded by postconf), and a session finds it by
 * address and port.
 */
static void
test_listener_overrides(void **state)
{
	struct fixture *f = *state;
	const struct rd_listener *mx, *sub, *any, *none;

	put(f, "main.cf",
	    "compatibility_level = 3.6\n"
	    "smtpd_sasl_auth_enable = yes\n"
	    "smtpd_tls_auth_only = no\n"
	    "mua_client_restrictions = permit_sasl_authenticated, reject\n"
	    "smtpd_recipient_restrictions = reject_unauth_destination, "
	    "permit_sasl_authenticated\n");
	put(f, "master.cf",
	    "127.0.0.1:2525 inet n - n - - smtpd -o smtpd_tls_auth_only=yes\n"
	    "127.0.0.1:2587 inet n - n - - smtpd\n"
	    "  -o smtpd_tls_security_level=encrypt\n"
	    "  -o smtpd_client_restrictions=$mua_client_restrictions\n"
	    "  -o mynetworks=10.0.0.0/8\n"
	    "smtp inet n - n - - smtpd -o smtpd_relay_restrictions=\n");
	import(f, POSTCONF);
	mx = rd_config_listener(f->cfg, "127.0.0.1", 2525);
	sub = rd_config_listener(f->cfg, "127.0.0.1", 2587);
	any = rd_config_listener(f->cfg, "192.0.2.1", 25);
	none = rd_config_listener(f->cfg, "127.0.0.2", 2525);
	assert_non_null(mx);
	assert_non_null(sub);
	assert_non_null(any);
	assert_null(none); /* another address, no listener on every one */
	assert_true(mx->tls_auth_only);
	assert_true(mx->sasl_enabled);
	assert_false(mx->submission);
	assert_false(mx->sasl_required);
	assert_string_equal(mx->recipient_restrictions,
	    "reject_unauth_destination, permit_sasl_authenticated");
	assert_string_equal(mx->relay_restrictions,
	    "permit_mynetworks, permit_sasl_authenticated, "
	    "defer_unauth_destination");
	assert_false(sub->tls_auth_only);
	assert_true(sub->tls_required);
	assert_true(sub->sasl_required);
	assert_true(sub->submission);
	assert_string_equal(
	    sub->client_restrictions, "permit_sasl_authenticated, reject");
	assert_non_null(sub->mynetworks);
	assert_true(rd_netset_match(sub->mynetworks, "10.1.2.3"));
	assert_false(rd_netset_match(sub->mynetworks, "127.0.0.1"));
	assert_null(mx->mynetworks); /* main.cf's: TrustedNetworks */
	assert_string_equal(any->name, "smtp");
	assert_string_equal(any->relay_restrictions, "");
	assert_false(any->submission);
}

/*
 * RelayGate: the check_client_access tables before the relay check are
 * read into the clients they permit (a POP-before-SMTP table), and what
 * cannot be read is a warning that says what to do.
 */
static void
test_client_tables(void **state)
{
	struct fixture *f = *state;
	const struct rd_listener *l;
	char buf[4096];

	put(f, "pop",
	    "# pop-before-smtp\n"
	    "192.0.2.7\t1733550000\n"
	    "198.51.100\tOK\n"
	    "2001:db8::5 ok\n"
	    "laptop.example.org OK\n"
	    "203.0.113.9 REJECT\n"
	    "203.0.113.10 DUNNO\n");
	put(f, "cidr", "10.9.0.0/16 PERMIT\n10.8.0.0/16 REJECT\n");
	snprintf(buf, sizeof(buf),
	    "compatibility_level = 3.6\n"
	    "smtpd_relay_restrictions = check_client_access texthash:%s/pop, "
	    "check_client_access cidr:%s/cidr, permit_mynetworks, "
	    "check_client_access mysql:/etc/postfix/pop.cf, "
	    "reject_unauth_destination, check_client_access hash:%s/late\n",
	    f->dir, f->dir, f->dir);
	put(f, "main.cf", buf);
	put(f, "master.cf", "smtp inet n - n - - smtpd\n");
	import(f, POSTCONF);
	l = rd_config_listener(f->cfg, "192.0.2.1", 25);
	assert_non_null(l);
	assert_non_null(l->client_permits);
	assert_true(rd_netset_match(l->client_permits, "192.0.2.7"));
	assert_true(rd_netset_match(l->client_permits, "198.51.100.77"));
	assert_true(rd_netset_match(l->client_permits, "2001:db8::5"));
	assert_true(rd_netset_match(l->client_permits, "10.9.3.4"));
	/* near misses: refused, DUNNO, another network */
	assert_false(rd_netset_match(l->client_permits, "203.0.113.9"));
	assert_false(rd_netset_match(l->client_permits, "203.0.113.10"));
	assert_false(rd_netset_match(l->client_permits, "10.8.3.4"));
	assert_false(rd_netset_match(l->client_permits, "192.0.2.8"));
	if (!has_warning(f->cfg, "1 permitting keys are host or domain") ||
	    !has_warning(f->cfg, "check_client_access mysql:/etc/postfix/"
				 "pop.cf cannot be expanded")) {
		dump_warnings(f->cfg);
		fail_msg("want the host-name and mysql: warnings");
	}
	/* after the relay check: not read, no warning for it */
	assert_false(has_warning(f->cfg, "/late"));
}

static void
test_no_submission_listener_keeps_ports(void **state)
{
	static const unsigned ports[] = {587, 465}; /* the defaults */
	struct fixture *f = *state;

	put(f, "main.cf", "compatibility_level = 3.6\n");
	put(f, "master.cf", "smtp inet n - y - - smtpd\n");
	import(f, POSTCONF);
	check_ports(f->cfg, ports, 2);
}

/*
 * StripForgedHeaders auto: relaydiag leaves forged copies of its header to
 * Postfix only when the header_checks that cleanup applies to every
 * listener with milters remove each spelling of it (real postconf and
 * postmap on the fixture's files).
 */
static void
test_forged_header_checks(void **state)
{
	static const char milt[] = "smtpd_milters = unix:/run/rd.sock\n";
	static const struct {
		const char *name, *main_cf, *master_cf, *hc, *hc2, *header;
		bool strip;
		const char *why;
	} cases[] = {
	    {"main.cf's header_checks ignore it",
		"header_checks = regexp:%D/hc\n", NULL,
		"/^X-Relay-Diagnostic:/ IGNORE\n", NULL, NULL, false,
		"header_checks (regexp:%D/hc) remove it"},
	    {"only some spellings", "header_checks = regexp:%D/hc\n", NULL,
		"/^X-Relay-Diagnostic: diagnosis=/ IGNORE\n", NULL, NULL, true,
		"removes \"x-relay-diagnostic:forged\""},
	    {"another answer than IGNORE", "header_checks = regexp:%D/hc\n",
		NULL, "/^X-Relay-Diagnostic:/ WARN forged\n", NULL, NULL, true,
		"answers \"WARN\""},
	    {"the first table that answers decides",
		"header_checks = regexp:%D/hc, regexp:%D/hc2\n", NULL,
		"/^Subject:/ IGNORE\n", "/^x-relay-diagnostic:/ IGNORE\n", NULL,
		false, "remove it"},
	    {"an earlier table's other answer wins",
		"header_checks = regexp:%D/hc regexp:%D/hc2\n", NULL,
		"/^X-Relay-/ DUNNO\n", "/^x-relay-diagnostic:/ IGNORE\n", NULL,
		true, "answers \"DUNNO\""},
	    {"another HeaderName", "header_checks = regexp:%D/hc\n", NULL,
		"/^X-Relay-Diagnostic:/ IGNORE\n", NULL, "X-Other", true,
		"removes \"X-Other: diagnosis="},
	    {"a listener without header checks",
		"header_checks = regexp:%D/hc\n",
		"smtp inet n - n - - smtpd\n"
		"127.0.0.1:2587 inet n - n - - smtpd\n"
		"  -o receive_override_options=no_header_body_checks\n",
		"/^X-Relay-Diagnostic:/ IGNORE\n", NULL, NULL, true,
		"service 127.0.0.1:2587: receive_override_options has "
		"no_header_body_checks"},
	    {"... that has no milter (a content filter's return)",
		"header_checks = regexp:%D/hc\n",
		"smtp inet n - n - - smtpd\n"
		"127.0.0.1:10025 inet n - n - - smtpd -o smtpd_milters=\n"
		"  -o receive_override_options=no_header_body_checks\n",
		"/^X-Relay-Diagnostic:/ IGNORE\n", NULL, NULL, false,
		"remove it"},
	    {"a listener's own cleanup service, without them",
		"header_checks = regexp:%D/hc\n",
		"smtp inet n - n - - smtpd\n"
		"submission inet n - n - - smtpd\n"
		"  -o cleanup_service_name=subcleanup\n"
		"cleanup unix n - n - 0 cleanup\n"
		"subcleanup unix n - n - 0 cleanup -o header_checks=\n",
		"/^X-Relay-Diagnostic:/ IGNORE\n", NULL, NULL, true,
		"service submission: its cleanup service subcleanup has no "
		"header_checks"},
	    {"... with their own", "",
		"smtp inet n - n - - smtpd -o cleanup_service_name=c2\n"
		"c2 unix n - n - 0 cleanup -o header_checks=regexp:%D/hc2\n",
		"", "/^X-Relay-Diagnostic:/ IGNORE\n", NULL, false,
		"header_checks (regexp:%D/hc2) remove it"},
	    {"none at all", "", NULL, "", NULL, NULL, true,
		"its cleanup service cleanup has no header_checks"},
	    {"a table postmap cannot open",
		"header_checks = regexp:%D/missing\n", NULL, "", NULL, NULL,
		true, "postmap"},
	};
	struct fixture *f = *state;
	char main_cf[512], why[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		(void)snprintf(main_cf, sizeof(main_cf),
		    "compatibility_level = 3.6\n%s%s", milt, cases[i].main_cf);
		put(f, "main.cf", main_cf);
		put(f, "master.cf",
		    cases[i].master_cf != NULL ? cases[i].master_cf
					       : "smtp inet n - n - - smtpd\n");
		put(f, "hc", cases[i].hc);
		put(f, "hc2", cases[i].hc2 != NULL ? cases[i].hc2 : "");
		rd_config_free(f->cfg);
		assert_non_null(f->cfg = rd_config_defaults());
		if (cases[i].header != NULL) {
			free(f->cfg->header_name);
			assert_non_null(
			    f->cfg->header_name = strdup(cases[i].header));
		}
		import(f, POSTCONF);
		expand(f, cases[i].why, why, sizeof(why));
		if (f->cfg->strip_forged_headers != cases[i].strip ||
		    strstr(f->cfg->strip_forged_why, why) == NULL)
			fail_msg("%s: strip %d (%s), want %d (... %s ...)",
			    cases[i].name, f->cfg->strip_forged_headers,
			    f->cfg->strip_forged_why, cases[i].strip, why);
	}
	/* yes and no are the admin's word: no postmap is asked */
	f->cfg->strip_forged = RD_STRIP_YES;
	f->cfg->strip_forged_headers = true;
	f->cfg->strip_forged_why[0] = '\0';
	put(f, "main.cf",
	    "compatibility_level = 3.6\n"
	    "smtpd_milters = unix:/run/rd.sock\n"
	    "header_checks = regexp:%D/hc\n");
	put(f, "hc", "/^X-Relay-Diagnostic:/ IGNORE\n");
	import(f, POSTCONF);
	assert_true(f->cfg->strip_forged_headers);
	assert_string_equal(f->cfg->strip_forged_why, "");
}

static void
test_mx_hosts_given_are_kept(void **state)
{
	struct fixture *f = *state;
	struct rd_err e;

	put(f, "main.cf", seed_main_cf);
	put(f, "master.cf", seed_master_cf);
	rd_err_clear(&e);
	assert_int_equal(
	    rd_domainset_add(f->cfg->mx_hosts, "mx.other.test", &e), 0);
	import(f, POSTCONF);
	assert_false(rd_domainset_match(f->cfg->mx_hosts, "mail.example.org"));
	assert_true(rd_domainset_match(f->cfg->mx_hosts, "mx.other.test"));
}

static void
test_warnings_are_capped(void **state)
{
	struct fixture *f = *state;
	char line[2048];
	size_t len;
	int i;

	len = (size_t)snprintf(line, sizeof(line), "virtual_alias_domains =");
	for (i = 1; i <= 20; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    " hash:/etc/postfix/t%d", i);
	assert_true(len + 2 < sizeof(line));
	(void)strcat(line, "\n");
	put(f, "main.cf", line);
	put(f, "master.cf", "smtp inet n - y - - smtpd\n");
	import(f, POSTCONF);
	assert_int_equal(f->cfg->n_warnings, RD_CONFIG_WARNINGS_MAX);
	assert_non_null(strstr(f->cfg->warnings[0], "hash:/etc/postfix/t1 "));
	assert_non_null(
	    strstr(f->cfg->warnings[RD_CONFIG_WARNINGS_MAX - 2], "t15 "));
	/* 20 warnings: 15 shown, the 16th slot counts the last 5. */
	assert_string_equal(f->cfg->warnings[RD_CONFIG_WARNINGS_MAX - 1],
	    "ImportPostfix: 5 more warnings not shown; run \"postconf -n\" to "
	    "see the whole configuration");
}

/* import_fails - the import fails, cfg untouched; err text contains want */
static void
import_fails(struct fixture *f, const char *dir, const char *bin,
    const char *want_source, const char *want)
{
	struct rd_err e;
	char buf[1024];

	rd_err_clear(&e);
	assert_int_equal(rd_config_import_postfix(f->cfg, dir, bin, &e), -1);
	rd_err_format(&e, buf, sizeof(buf));
	if (strstr(e.text, want) == NULL)
		fail_msg("error \"%s\", want \"%s\" in it", buf, want);
	if (want_source != NULL)
		assert_string_equal(e.source, want_source);
	assert_int_equal(f->cfg->n_warnings, 0);
	assert_int_equal(rd_domainset_count(f->cfg->local_domains), 0);
	assert_int_equal(f->cfg->n_submission_ports, 2);
	assert_true(rd_netset_match(f->cfg->trusted_networks, "127.0.0.1"));
}

static void
test_missing_postconf_is_a_clean_error(void **state)
{
	struct fixture *f = *state;

	put(f, "main.cf", seed_main_cf);
	put(f, "master.cf", seed_master_cf);
	import_fails(f, f->dir, "/nonexistent/postconf", f->dir,
	    "cannot run /nonexistent/postconf: No such file or directory; is "
	    "Postfix installed?");
}

static void
test_missing_directory_is_a_clean_error(void **state)
{
	struct fixture *f = *state;
	char path[256];

	path_in(f, "no-such-dir", path, sizeof(path));
	import_fails(f, path, POSTCONF, path, "No such file or directory");
	put(f, "plain-file", "");
	path_in(f, "plain-file", path, sizeof(path));
	import_fails(f, path, POSTCONF, path, "not a directory");
}

static void
test_missing_master_cf_is_a_clean_error(void **state)
{
	struct fixture *f = *state;
	char want[256];

	put(f, "main.cf", seed_main_cf);
	(void)snprintf(want, sizeof(want),
	    "postconf: fatal: open %s/master.cf: No such file or directory",
	    f->dir);
	import_fails(f, f->dir, POSTCONF, f->dir, want);
}

static void
test_postconf_killed_is_a_clean_error(void **state)
{
	struct fixture *f = *state;
	char bin[256];

	put(f, "main.cf", seed_main_cf);
	put(f, "master.cf", seed_master_cf);
	put(f, "fake-postconf",
	    "#!/bin/sh\necho 'postconf: fatal: out of luck' >&2\nkill -9 $$\n");
	path_in(f, "fake-postconf", bin, sizeof(bin));
	assert_int_equal(chmod(bin, 0700), 0);
	import_fails(f, f->dir, bin, f->dir,
	    "was killed by signal 9: postconf: fatal: out of luck");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_seed_report_shapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_postconf_from_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_submission_listeners, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_no_submission_listener_keeps_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_listener_overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_forged_header_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_mx_hosts_given_are_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_warnings_are_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_missing_postconf_is_a_clean_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_missing_directory_is_a_clean_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_missing_master_cf_is_a_clean_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_postconf_killed_is_a_clean_error, setup, teardown),
	};

	if (access(POSTCONF, X_OK) != 0) {
		/* Loud, like SKIPS_AS_FAILS: this test needs Postfix. */
		fprintf(stderr,
		    "test_postconf: %s missing: install postfix "
		    "(scripts/install-deps.sh)\n",
		    POSTCONF);
		return (1);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

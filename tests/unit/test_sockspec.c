/*
 * test_sockspec.c - the milter socket's spec (sockspec.c), one table: what
 * libmilter accepts (any case of the prefix) is accepted with its parts,
 * the rest is refused with a sentence that helps; and the address to
 * connect to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/sockspec.h"

static void
test_parse_table(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		enum rd_sock_family fam;
		const char *path_or_host;
		unsigned port;
		const char *why;
	} t[] = {
	    {"unix:/run/rd.sock", 0, RD_SOCK_UNIX, "/run/rd.sock", 0, NULL},
	    {"local:/run/rd.sock", 0, RD_SOCK_UNIX, "/run/rd.sock", 0, NULL},
	    {"UNIX:/run/rd.sock", 0, RD_SOCK_UNIX, "/run/rd.sock", 0, NULL},
	    {"Local:/x", 0, RD_SOCK_UNIX, "/x", 0, NULL},
	    {"inet:8891@127.0.0.1", 0, RD_SOCK_INET, "127.0.0.1", 8891, NULL},
	    {"INET:8891", 0, RD_SOCK_INET, "", 8891, NULL},
	    {"inet6:8891@[::1]", 0, RD_SOCK_INET6, "[::1]", 8891, NULL},
	    {"Inet6:1", 0, RD_SOCK_INET6, "", 1, NULL},
	    {"inet:65535@h", 0, RD_SOCK_INET, "h", 65535, NULL},
	    {"unix:run/rd.sock", -1, 0, NULL, 0, "must be absolute"},
	    {"local:", -1, 0, NULL, 0, "must be absolute"},
	    {"inet:0@h", -1, 0, NULL, 0, "expected a port number"},
	    {"inet:65536", -1, 0, NULL, 0, "expected a port number"},
	    {"inet:99999999999999999999", -1, 0, NULL, 0, "expected a port"},
	    {"inet:@h", -1, 0, NULL, 0, "expected a port number"},
	    {"inet:+25@h", -1, 0, NULL, 0, "expected a port number"},
	    {"inet:25x@h", -1, 0, NULL, 0, "after \"inet:\""},
	    {"INET:x", -1, 0, NULL, 0, "after \"INET:\""},
	    {"inet:25@", -1, 0, NULL, 0, "no host after '@'"},
	    {"/run/rd.sock", -1, 0, NULL, 0, "did you mean \"local:/run/rd"},
	    {"tcp:25", -1, 0, NULL, 0, "expected local:/path"},
	    {"", -1, 0, NULL, 0, "expected local:/path"},
	};
	struct rd_sockspec ss;
	char why[600], longpath[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why[0] = '\0';
		if (rd_sockspec_parse(t[i].spec, &ss, why, sizeof(why)) !=
		    t[i].rc)
			fail_msg("\"%s\": rc, want %d (%s)", t[i].spec, t[i].rc,
			    why);
		if (t[i].rc != 0) {
			if (strstr(why, t[i].why) == NULL)
				fail_msg("\"%s\": why \"%s\", want \"%s\"",
				    t[i].spec, why, t[i].why);
			continue;
		}
		assert_int_equal(ss.family, t[i].fam);
		assert_string_equal(
		    t[i].fam == RD_SOCK_UNIX ? ss.path : ss.host,
		    t[i].path_or_host);
		assert_int_equal(ss.port, t[i].port);
	}
	/* bind() takes sizeof(sun_path) - 1 bytes */
	snprintf(longpath, sizeof(longpath), "local:/%0*d",
	    (int)sizeof(ss.path) - 2, 0);
	assert_int_equal(rd_sockspec_parse(longpath, &ss, why, sizeof(why)), 0);
	snprintf(longpath, sizeof(longpath), "local:/%0*d",
	    (int)sizeof(ss.path) - 1, 0);
	assert_int_equal(
	    rd_sockspec_parse(longpath, &ss, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer than 107 bytes"));
}

static void
test_addr(void **state)
{
	struct sockaddr_storage sa;
	struct rd_sockspec ss;
	socklen_t len;
	char why[600];

	(void)state;
	assert_int_equal(
	    rd_sockspec_parse("inet:8891", &ss, why, sizeof(why)), 0);
	assert_int_equal(rd_sockspec_addr(&ss, &sa, &len, why, sizeof(why)), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 8891);
	assert_int_equal(ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr),
	    INADDR_LOOPBACK);
	assert_int_equal(
	    rd_sockspec_parse("inet6:25", &ss, why, sizeof(why)), 0);
	assert_int_equal(rd_sockspec_addr(&ss, &sa, &len, why, sizeof(why)), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(
	    rd_sockspec_parse("UNIX:/run/x", &ss, why, sizeof(why)), 0);
	assert_int_equal(rd_sockspec_addr(&ss, &sa, &len, why, sizeof(why)), 0);
	assert_int_equal(sa.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&sa)->sun_path, "/run/x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_addr),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

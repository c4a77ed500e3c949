/* test-graph-config.c — upkeep-graph's configuration: defaults, every key, and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "graph-config.h"

static GraphConfig *parse(const char *text, char ***warnings)
{
        GraphConfig *c = NULL;
        Error e = { { 0 } };
        int r = graph_config_parse(text, strlen(text), "graph.toml", &c, warnings, &e);
        if (r < 0)
                fail_msg("unexpected error: %s", e.message);
        return c;
}

static void expect_error(const char *text, const char *msg)
{
        GraphConfig *c = NULL;
        Error e = { { 0 } };
        assert_true(graph_config_parse(text, strlen(text), "graph.toml", &c, NULL, &e) < 0);
        assert_null(c);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
}

static void test_defaults(void **state)
{
        GraphConfig *c = NULL;
        assert_int_equal(graph_config_default(&c), 0);
        assert_string_equal(c->address, "::");
        assert_int_equal(c->port, 8080);
        assert_int_equal(c->refresh_interval_secs, 30);
        assert_int_equal(c->n_streams, 1);
        assert_string_equal(c->streams[0].name, "stable");
        assert_string_equal(c->streams[0].releases, "/var/lib/upkeep/graph/stable/releases.json");
        assert_string_equal(c->streams[0].updates, "/var/lib/upkeep/graph/stable/updates.json");
        assert_int_equal(c->streams[0].n_basearches, 4);
        graph_config_free(c);
}

static void test_full(void **state)
{
        char **w = NULL;
        GraphConfig *c =
                parse("[server]\naddress = \"127.0.0.1\"\nport = 0\nthreads = 4\nmax_connections = 10\n"
                      "idle_timeout_secs = 5\n[refresh]\ninterval_secs = 7\nfetch_timeout_secs = 3\n"
                      "max_document_bytes = 4096\n[cache]\nmax_answers = 0\n"
                      "[streams.stable]\nreleases = \"https://h/r.json\"\nupdates = \"u.json\"\n"
                      "basearches = [\"x86_64\"]\n[streams.testing]\n",
                      &w);
        assert_string_equal(c->address, "127.0.0.1");
        assert_int_equal(c->port, 0);
        assert_int_equal(c->threads, 4);
        assert_int_equal(c->max_connections, 10);
        assert_int_equal(c->idle_timeout_secs, 5);
        assert_int_equal(c->refresh_interval_secs, 7);
        assert_int_equal(c->fetch_timeout_secs, 3);
        assert_int_equal(c->max_document_bytes, 4096);
        assert_int_equal(c->max_cached_answers, 0);
        assert_int_equal(c->n_streams, 2);
        assert_string_equal(c->streams[0].releases, "https://h/r.json");
        assert_string_equal(c->streams[0].updates, "u.json");
        assert_int_equal(c->streams[0].n_basearches, 1);
        assert_string_equal(c->streams[1].name, "testing");
        assert_string_equal(c->streams[1].releases, "/var/lib/upkeep/graph/testing/releases.json");
        assert_non_null(graph_config_find_stream(c, "testing"));
        assert_null(graph_config_find_stream(c, "next"));
        assert_true(!w || !w[0]);
        strv_free(w);
        graph_config_free(c);
}

static void test_warnings(void **state)
{
        char **w = NULL;
        GraphConfig *c = parse("colour = 1\n[server]\nspeed = 2\n[streams.s]\nfoo = 3\n[extra.table]\n", &w);
        assert_non_null(w);
        assert_string_equal(w[0], "graph.toml:1: unknown key 'colour' ignored");
        assert_string_equal(w[1], "graph.toml:3: unknown key 'server.speed' ignored");
        assert_string_equal(w[2], "graph.toml:5: unknown key 'streams.s.foo' ignored");
        assert_non_null(strstr(w[3], "unknown key 'extra' ignored"));
        assert_null(w[4]);
        strv_free(w);
        graph_config_free(c);
}

static void test_errors(void **state)
{
        expect_error("", "graph.toml: streams: no stream configured");
        expect_error("x = ", "graph.toml:1:");
        expect_error("[server]\nport = -1\n[streams.s]\n",
                     "graph.toml:2: server.port: must be an integer between 0 "
                     "and 65535");
        expect_error("[server]\nport = \"80\"\n[streams.s]\n", "server.port");
        expect_error("[server]\naddress = \"example.com\"\n[streams.s]\n", "numeric IPv4 or IPv6");
        expect_error("[server]\naddress = \"\"\n[streams.s]\n", "must not be empty");
        expect_error("[server]\nthreads = 0\n[streams.s]\n", "server.threads");
        expect_error("server = 1\n[streams.s]\n", "server: must be a table");
        expect_error("[refresh]\ninterval_secs = 100000\n[streams.s]\n", "refresh.interval_secs");
        expect_error("[refresh]\nmax_document_bytes = 10\n[streams.s]\n", "refresh.max_document_bytes");
        expect_error("[cache]\nmax_answers = -1\n[streams.s]\n", "cache.max_answers");
        expect_error("streams = 1\n", "streams: must be a table");
        expect_error("[streams]\ns = 1\n", "streams.s: must be a table");
        expect_error("[streams.\"bad/name\"]\n", "stream names are");
        expect_error("[streams.s]\nbasearches = \"x86_64\"\n", "streams.s.basearches");
        expect_error("[streams.s]\nbasearches = [\"x86_64\", \"x86_64\"]\n", "listed twice");
        expect_error("[streams.s]\nbasearches = [1]\n", "architecture names");
        expect_error("[streams.s]\nreleases = \"a\\u0000b\"\n", "NUL");
        expect_error("[status]\nlock_admin_url = \"ftp://lock\"\n[streams.s]\n",
                     "status.lock_admin_url: must be an http:// or https:// URL");
        expect_error("[status]\nlock_admin_url = \"http://lock\\u001b[1m\"\n[streams.s]\n",
                     "status.lock_admin_url: must be an http:// or https:// URL");
}

/* What a reload cannot apply is named, and set back to the running value; the rest is left alone. */
static void test_keep_restart_settings(void **state)
{
        static const char a[] = "[server]\nport = 8080\nthreads = 2\n[refresh]\ninterval_secs = 30\n"
                                "[streams.s]\n";
        static const char b[] = "[server]\naddress = \"127.0.0.1\"\nport = 9090\nthreads = 2\n"
                                "idle_timeout_secs = 5\n[refresh]\ninterval_secs = 5\n[streams.s]\n";
        GraphConfig *old = NULL, *new = NULL;
        char **warnings = NULL, **restart = NULL;
        Error e = { { 0 } };

        assert_int_equal(graph_config_parse(a, strlen(a), "graph.toml", &old, &warnings, &e), 0);
        assert_int_equal(graph_config_parse(a, strlen(a), "graph.toml", &new, &warnings, &e), 0);
        assert_int_equal(graph_config_keep_restart_settings(old, new, &restart), 0);
        assert_null(restart);
        graph_config_free(new);

        assert_int_equal(graph_config_parse(b, strlen(b), "graph.toml", &new, &warnings, &e), 0);
        assert_int_equal(graph_config_keep_restart_settings(old, new, &restart), 0);
        assert_int_equal(strv_length(restart), 3);
        assert_string_equal(restart[0], "server.address (:: -> 127.0.0.1)");
        assert_string_equal(restart[1], "server.port (8080 -> 9090)");
        assert_string_equal(restart[2], "server.idle_timeout_secs (30 -> 5)");
        assert_string_equal(new->address, "::");
        assert_int_equal(new->port, 8080);
        assert_int_equal(new->idle_timeout_secs, 30);
        assert_int_equal(new->threads, 2);
        assert_int_equal(new->refresh_interval_secs, 5); /* applied in place */
        strv_free(restart);
        graph_config_free(new);
        graph_config_free(old);
}

static void test_reports_and_policy(void **state)
{
        static const char text[] = "[streams.stable]\n[streams.next]\n"
                                   "[reports]\nenabled = true\ndatabase = \"/tmp/r.db\"\n"
                                   "tokens = [\"a\", \"b\"]\nper_minute = 3\nmax_nodes = 100\n"
                                   "[admin]\ntoken_file = \"/etc/upkeep/admin-token\"\n"
                                   "[[policy]]\nstream = \"stable\"\nfailure_threshold_count = 3\n"
                                   "failure_threshold_ratio = 0.1\nmin_sample = 20\ncanary = 3\n"
                                   "[[policy]]\nstream = \"next\"\ngroup = \"canary\"\n";
        GraphConfig *c = parse(text, NULL), *d = NULL, *old = NULL;
        char **restart = NULL;

        assert_true(c->reports_enabled);
        assert_string_equal(c->reports_database, "/tmp/r.db");
        assert_int_equal(c->n_reports_tokens, 2);
        assert_string_equal(c->reports_tokens[1], "b");
        assert_int_equal(c->reports_per_minute, 3);
        assert_int_equal(c->reports_max_nodes, 100);
        assert_string_equal(c->admin_token_file, "/etc/upkeep/admin-token");
        assert_int_equal(c->n_policies, 2);
        assert_string_equal(c->policies[0].stream, "stable");
        assert_null(c->policies[0].group);
        assert_int_equal(c->policies[0].failure_threshold_count, 3);
        assert_true(c->policies[0].failure_threshold_ratio == 0.1);
        assert_int_equal(c->policies[0].min_sample, 20);
        assert_int_equal(c->policies[0].canary, 3);
        assert_int_equal(c->policies[1].canary, 0);
        /* Defaults of a policy: 2 failures, 5%, a sample of 5. */
        assert_string_equal(c->policies[1].group, "canary");
        assert_int_equal(c->policies[1].failure_threshold_count, 2);
        assert_true(c->policies[1].failure_threshold_ratio == 0.05);
        assert_int_equal(c->policies[1].min_sample, 5);

        /* Reports off by default, at the documented place. */
        assert_int_equal(graph_config_default(&d), 0);
        assert_false(d->reports_enabled);
        assert_string_equal(d->reports_database, "/var/lib/upkeep/graph/reports.db");
        assert_int_equal(d->reports_per_minute, 10);
        assert_int_equal(d->n_policies, 0);
        assert_null(d->admin_token_file);

        /* A reload keeps the running [reports] and admin settings, and takes the new policies. */
        old = c;
        assert_int_equal(graph_config_keep_restart_settings(old, d, &restart), 0);
        assert_int_equal(strv_length(restart), 6);
        assert_string_equal(restart[0], "reports.enabled (true -> false)");
        assert_string_equal(restart[1], "reports.database");
        assert_string_equal(restart[2], "reports.tokens");
        assert_string_equal(restart[3], "admin.token_file");
        assert_string_equal(restart[4], "reports.per_minute (3 -> 10)");
        assert_true(d->reports_enabled);
        assert_string_equal(d->reports_database, "/tmp/r.db");
        assert_int_equal(d->n_reports_tokens, 2);
        assert_string_equal(d->admin_token_file, "/etc/upkeep/admin-token");
        assert_int_equal(d->reports_per_minute, 3);
        assert_int_equal(d->n_policies, 0);
        strv_free(restart);
        graph_config_free(d);
        graph_config_free(c);

        expect_error("[streams.s]\n[[policy]]\nstream = \"t\"\n",
                     "policy[0].stream: no stream 't' configured");
        expect_error("[streams.s]\n[[policy]]\ngroup = \"g\"\n", "policy[0]: stream: missing");
        expect_error("[streams.s]\n[[policy]]\nstream = \"s\"\nfailure_threshold_ratio = 1.0\n",
                     "failure_threshold_ratio: must be at least 0 and below 1");
        expect_error("[streams.s]\n[[policy]]\nstream = \"s\"\nmin_sample = 0\n", "min_sample");
        expect_error("policy = 1\n[streams.s]\n", "policy: must be an array");
        expect_error("[streams.s]\n[[policy]]\nstream = \"s\"\ncanary = 65\n", "canary");
        expect_error("[streams.s]\n[reports]\nper_minute = 0\n", "reports.per_minute");
        expect_error("[streams.s]\n[reports]\ntokens = [\"\"]\n", "reports.tokens");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_warnings),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_keep_restart_settings),
                cmocka_unit_test(test_reports_and_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-lock-config.c — upkeep-lock's configuration: Airlock's config.toml unchanged, Upkeep's keys,
 * defaults, and bad values with file, line and key in the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lock-config.h"
#include "macros.h"

/* Airlock's dist/examples/config.toml, with [etcd3]'s optional keys added. */
static const char airlock[] = "[status]\n"
                              "enabled = true\n"
                              "address = \"127.0.0.1\"\n"
                              "port = 2222\n"
                              "tls = false\n"
                              "[service]\n"
                              "address = \"127.0.0.1\"\n"
                              "port = 3333\n"
                              "tls = false\n"
                              "[etcd3]\n"
                              "endpoints = [ \"http://127.0.0.1:2379\" ]\n"
                              "transaction_timeout_ms = 3000\n"
                              "client_cert_pub_path = \"\"\n"
                              "client_cert_key_path = \"\"\n"
                              "[lock]\n"
                              "default_group_name = \"default\"\n"
                              "default_slots = 2\n"
                              "[[lock.groups]]\n"
                              "name = \"workers\"\n"
                              "[[lock.groups]]\n"
                              "name = \"controllers\"\n"
                              "slots = 1\n";

static LockConfig *parse(const char *text, char ***w)
{
        LockConfig *c = NULL;
        Error e = { { 0 } };
        if (lock_config_parse(text, strlen(text), "lock.toml", &c, w, &e) < 0)
                fail_msg("unexpected error: %s", e.message);
        return c;
}

static void expect_error(const char *text, const char *msg)
{
        LockConfig *c = NULL;
        Error e = { { 0 } };
        assert_true(lock_config_parse(text, strlen(text), "lock.toml", &c, NULL, &e) < 0);
        assert_null(c);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
}

static void test_airlock_unchanged(void **state)
{
        char **w = NULL;
        LockConfig *c = parse(airlock, &w);

        assert_true(!w || !w[0]);
        assert_int_equal(c->backend, LOCK_BACKEND_ETCD3); /* an Airlock config keeps using etcd */
        assert_int_equal(c->n_etcd_endpoints, 1);
        assert_string_equal(c->etcd_endpoints[0], "http://127.0.0.1:2379");
        assert_int_equal(c->etcd_timeout_ms, 3000);
        assert_string_equal(c->address, "127.0.0.1");
        assert_int_equal(c->port, 3333);
        assert_false(c->tls);
        assert_true(c->status_enabled);
        assert_int_equal(c->status_port, 2222);
        assert_int_equal(c->n_groups, 3);
        assert_string_equal(c->groups[0].name, "default");
        assert_true(c->groups[0].policy.slots == 2);
        assert_true(lock_config_find_group(c, "workers")->policy.slots == 2);
        assert_true(lock_config_find_group(c, "controllers")->policy.slots == 1);
        assert_null(lock_config_find_group(c, "nope"));
        assert_true(c->groups[1].policy.max_hold_secs == 0);
        strv_free(w);
        lock_config_free(c);
}

static void test_defaults(void **state)
{
        LockConfig *c = NULL;
        assert_int_equal(lock_config_default(&c), 0);
        assert_int_equal(c->backend, LOCK_BACKEND_SQLITE);
        assert_string_equal(c->sqlite_path, "/var/lib/upkeep/lock/lock.db");
        assert_int_equal(c->port, 3333); /* Airlock's example's port, which Zincati fragments name */
        assert_int_equal(c->threads, 2);
        assert_int_equal(c->n_groups, 1);
        assert_string_equal(c->groups[0].name, "default");
        assert_true(c->groups[0].policy.slots == 1);
        assert_null(c->admin_token);
        lock_config_free(c);

        c = parse("", NULL);
        assert_int_equal(c->backend, LOCK_BACKEND_SQLITE);
        assert_int_equal(c->n_groups, 1);
        lock_config_free(c);

        /* An empty [etcd3] table does not select etcd; [backend] type wins over [etcd3]. */
        c = parse("[etcd3]\n", NULL);
        assert_int_equal(c->backend, LOCK_BACKEND_SQLITE);
        lock_config_free(c);
        c = parse("[backend]\ntype = \"etcd3\"\n[etcd3]\nendpoints = [\"http://e:2379\"]\n", NULL);
        assert_int_equal(c->backend, LOCK_BACKEND_ETCD3);
        lock_config_free(c);
}

static void test_upkeep_keys(void **state)
{
        char **w = NULL;
        LockConfig *c = parse(
                "[backend]\ntype = \"sqlite\"\nsqlite_path = \"/tmp/l.db\"\n"
                "[etcd3]\nendpoints = [\"https://a:2379\", \"http://b:2379\"]\n"
                "[auth]\nadmin_token_file = \"/etc/upkeep/admin.token\"\n"
                "[service]\nthreads = 3\ntls = true\ntls_cert_path = \"c.pem\"\ntls_key_path = \"k.pem\"\n"
                "[lock]\ndefault_slots = 3\ndefault_max_hold_secs = 3600\ndefault_settle_secs = 30\n"
                "[[lock.groups]]\nname = \"default\"\nslots = 1\n"
                "[[lock.groups]]\nname = \"db\"\nsettle_secs = 120\npaused = true\n"
                "time_zone = \"Europe/Berlin\"\nclient_tokens = [\"t1\", \"t2\"]\n"
                "[[lock.groups.window]]\ndays = [\"sat\", \"sun\"]\nstart_time = \"22:00\"\n"
                "length_minutes = 120\ncolour = 1\n",
                &w);
        assert_int_equal(c->backend, LOCK_BACKEND_SQLITE); /* [backend] type wins over [etcd3] */
        assert_string_equal(c->sqlite_path, "/tmp/l.db");
        assert_int_equal(c->n_etcd_endpoints, 2);
        assert_string_equal(c->admin_token_file, "/etc/upkeep/admin.token");
        assert_true(c->tls);
        assert_int_equal(c->threads, 3);
        assert_int_equal(c->n_groups, 2);
        /* As in Airlock, [lock] configures the default group: its [[lock.groups]] entry is ignored whole. */
        assert_true(c->groups[0].policy.slots == 3);
        assert_true(c->groups[0].policy.max_hold_secs == 3600);
        const LockGroupConfig *g = lock_config_find_group(c, "db");
        assert_true(g->policy.slots == 3);
        assert_true(g->policy.max_hold_secs == 3600);
        assert_true(g->policy.settle_secs == 120);
        assert_true(g->policy.paused);
        assert_string_equal(g->time_zone, "Europe/Berlin");
        assert_int_equal(g->n_client_tokens, 2);
        assert_int_equal(g->n_windows, 1);
        assert_string_equal(g->windows[0].days[1], "sun");
        assert_string_equal(g->windows[0].start_time, "22:00");
        assert_true(g->windows[0].length_minutes == 120);
        assert_non_null(w);
        assert_non_null(strstr(w[0], "lock.toml:18: lock.groups[0]: 'default' is the default group"));
        assert_non_null(strstr(w[1], "unknown key 'lock.groups[db].window[0].colour' ignored"));
        strv_free(w);
        lock_config_free(c);
}

static void test_errors(void **state)
{
        expect_error("[service]\nport = 99999\n",
                     "lock.toml:2: service.port: must be an integer between 0 and 65535");
        expect_error("[service]\naddress = \"localhost\"\n", "service.address: must be a numeric");
        expect_error("[service]\ntls = true\n", "TLS needs service.tls_cert_path");
        expect_error("[service]\ntls = \"yes\"\n", "service.tls: must be true or false");
        expect_error("[etcd3]\ntransaction_timeout_ms = 3000\n", "etcd3.endpoints: the etcd3 backend needs");
        expect_error("[etcd3]\nendpoints = [\"127.0.0.1:2379\"]\n", "must be http:// or https:// URLs");
        expect_error("[etcd3]\nendpoints = [\"http://a\"]\nclient_cert_pub_path = \"c\"\n", "go together");
        expect_error("[backend]\ntype = \"redis\"\n", "backend.type: must be \"sqlite\" or \"etcd3\"");
        expect_error("[backend]\ntype = \"\"\n", "lock.toml:2: backend.type: must not be empty");
        expect_error("[backend]\ntype = 1\n", "lock.toml:2: backend.type: must be a string");
        expect_error("[status]\nport = 65536\n",
                     "lock.toml:2: status.port: must be an integer between 0 and 65535");
        expect_error("[service]\nport = 1\n[status]\nport = 1.5\n", "lock.toml:4: status.port");
        expect_error("[auth]\nadmin_token = \"a\"\nadmin_token_file = \"b\"\n", "not both");
        expect_error("[lock]\ndefault_slots = 0\n", "lock.default_slots");
        expect_error("[[lock.groups]]\nslots = 1\n", "lock.groups[0]: needs a name");
        expect_error("[[lock.groups]]\nname = \"\"\n", "needs a name");
        expect_error("[[lock.groups]]\nname = \"a\\nb\"\n", "without control characters");
        expect_error("[[lock.groups]]\nname = \"a\\u0001b\"\n", "without control characters");
        expect_error("[[lock.groups]]\nname = \"a\\u0085b\"\n", "without control characters");
        expect_error("[lock]\ndefault_group_name = \"a\\tb\"\n", "lock.default_group_name");
        expect_error("[[lock.groups]]\nname = \"a\"\nslots = -1\n", "lock.groups[a].slots");
        expect_error("[[lock.groups]]\nname = \"a\"\n[[lock.groups.window]]\ndays = [\"mon\"]\n",
                     "needs days, start_time and length_minutes");
        expect_error("[[lock.groups]]\nname = \"a\"\n[[lock.groups.window]]\ndays = [\"mon\"]\nstart_time = "
                     "\"1:00\"\n"
                     "length_minutes = 0\n",
                     "length_minutes: must be an integer between 1 and 10080");
        expect_error("[[lock.groups]]\nname = \"a\"\nclient_tokens = [\"\"]\n", "non-empty strings");
        expect_error("lock = 1\n", "lock: must be a table");
        expect_error("[lock\n", "lock.toml:1:");
}

/* Airlock's [lock] semantics: it fills a map from [[lock.groups]] in order (a later entry with the same
 * name replaces an earlier one), then sets the default group from default_slots, whatever an entry said. */
static void test_airlock_groups(void **state)
{
        char **w = NULL;
        LockConfig *c =
                parse("[lock]\ndefault_slots = 5\n"
                      "[[lock.groups]]\nname = \"default\"\nslots = 1\nmax_hold_secs = 60\npaused = true\n"
                      "[[lock.groups]]\nname = \"a\"\nslots = 2\n"
                      "[[lock.groups]]\nname = \"a\"\nslots = 3\n",
                      &w);

        assert_int_equal(c->n_groups, 2);
        assert_string_equal(c->groups[0].name, "default");
        assert_true(c->groups[0].policy.slots == 5);
        assert_true(c->groups[0].policy.max_hold_secs == 0);
        assert_false(c->groups[0].policy.paused);
        assert_true(lock_config_find_group(c, "a")->policy.slots == 3);
        assert_non_null(w);
        assert_non_null(strstr(w[0], "lock.toml:4: lock.groups[0]: 'default' is the default group"));
        assert_non_null(strstr(w[0], "ignored (as in Airlock)"));
        assert_non_null(strstr(w[1], "lock.toml:9: lock.groups[1]: group 'a' is listed again in "
                                     "lock.groups[2], which replaces this entry"));
        assert_null(w[2]);
        strv_free(w);
        lock_config_free(c);

        /* default_group_name moves the default: an entry for the old name is an ordinary group. */
        w = NULL;
        c = parse("[lock]\ndefault_group_name = \"main\"\n[[lock.groups]]\nname = \"default\"\nslots = 4\n"
                  "[[lock.groups]]\nname = \"main\"\nslots = 9\n",
                  &w);
        assert_int_equal(c->n_groups, 2);
        assert_string_equal(c->groups[0].name, "main");
        assert_true(c->groups[0].policy.slots == 1);
        assert_true(lock_config_find_group(c, "default")->policy.slots == 4);
        assert_non_null(w);
        assert_non_null(strstr(w[0], "lock.groups[1]: 'main' is the default group"));
        strv_free(w);
        lock_config_free(c);
}

/* Airlock accepts any non-empty group name: so does Upkeep, but for control characters. */
static void test_group_names(void **state)
{
        static const char *const names[] = { "my_workers",  "a b",           "eu/west", "say \"hi\"",
                                             "back\\slash", "Zürich-ß-日本", "default" };
        char text[512];
        char **w = NULL;
        LockConfig *c;

        snprintf(text, sizeof(text),
                 "[lock]\ndefault_group_name = \"my_workers\"\n"
                 "[[lock.groups]]\nname = \"a b\"\n[[lock.groups]]\nname = \"eu/west\"\n"
                 "[[lock.groups]]\nname = 'say \"hi\"'\n[[lock.groups]]\nname = 'back\\slash'\n"
                 "[[lock.groups]]\nname = \"Zürich-ß-日本\"\n[[lock.groups]]\nname = \"default\"\n");
        c = parse(text, &w);
        assert_null(w);
        assert_int_equal(c->n_groups, ELEMENTSOF(names));
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_non_null(lock_config_find_group(c, names[i]));
        lock_config_free(c);
}

static void test_status_tls(void **state)
{
        char **w = NULL;
        LockConfig *c = parse("[status]\nenabled = true\ntls = true\n", &w);

        assert_null(w); /* a key of Airlock's, not an unknown one */
        assert_true(c->status_tls);
        lock_config_free(c);
        expect_error("[status]\ntls = \"no\"\n", "status.tls: must be true or false");
}

static void test_generated_token_path(void **state)
{
        char *p = NULL;
        LockConfig *c = NULL;

        assert_int_equal(lock_config_default(&c), 0);
        assert_true(c->generate_admin_token);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_string_equal(p, LOCK_ADMIN_TOKEN_DEFAULT); /* where `upkeep lock` looks */
        free(p);
        lock_config_free(c);

        c = parse("[backend]\nsqlite_path = \"/tmp/x/l.db\"\n", NULL);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_string_equal(p, "/tmp/x/admin.token");
        free(p);
        lock_config_free(c);
        c = parse("[backend]\nsqlite_path = \"l.db\"\n", NULL);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_string_equal(p, "admin.token");
        free(p);
        lock_config_free(c);

        /* A configured token wins; generate_admin_token = false turns the admin API off. */
        p = (char *)1;
        c = parse("[auth]\nadmin_token = \"t\"\n", NULL);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_null(p);
        lock_config_free(c);
        p = (char *)1;
        c = parse("[auth]\nadmin_token_file = \"/etc/t\"\n", NULL);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_null(p);
        lock_config_free(c);
        p = (char *)1;
        c = parse("[auth]\ngenerate_admin_token = false\n", NULL);
        assert_int_equal(lock_config_generated_token_path(c, &p), 0);
        assert_null(p);
        lock_config_free(c);
}

/* The keys a reload could not apply, between a and the configuration in text (NULL when none). */
static char **restart_keys(const LockConfig *a, const char *text)
{
        LockConfig *b = parse(text, NULL);
        char **keys = (char **)1;

        assert_int_equal(lock_config_restart_keys(a, b, &keys), 0);
        lock_config_free(b);
        return keys;
}

/* What a reload cannot apply is named; what it can apply (groups, tokens) is not. */
static void test_restart_keys(void **state)
{
        LockConfig *a = parse(airlock, NULL);
        char **keys;

        assert_null(restart_keys(a, airlock));
        /* Groups, slots, windows, pause and tokens change freely. */
        assert_null(restart_keys(a, "[status]\nenabled = true\naddress = \"127.0.0.1\"\nport = 2222\n"
                                    "[service]\naddress = \"127.0.0.1\"\nport = 3333\n"
                                    "[etcd3]\nendpoints = [ \"http://127.0.0.1:2379\" ]\n"
                                    "transaction_timeout_ms = 3000\n"
                                    "[auth]\nadmin_token = \"new\"\n"
                                    "[lock]\ndefault_slots = 5\n[[lock.groups]]\nname = \"new\"\n"
                                    "paused = true\nclient_tokens = [\"t\"]\n[[lock.groups.window]]\n"
                                    "days = [\"Mon\"]\nstart_time = \"01:00\"\nlength_minutes = 60\n"));

        keys = restart_keys(a,
                            "[status]\nenabled = false\nport = 2223\n"
                            "[service]\naddress = \"127.0.0.2\"\nport = 3334\nthreads = 4\n"
                            "[etcd3]\nendpoints = [ \"http://127.0.0.1:2379\", \"http://127.0.0.1:2380\" ]\n"
                            "ca_path = \"/ca.pem\"\ntransaction_timeout_ms = 5000\n"
                            "[backend]\ntype = \"sqlite\"\nsqlite_path = \"/l.db\"\n");
        assert_non_null(keys);
        const char *want[] = { "[service] address",
                               "[service] port",
                               "[service] threads",
                               "[status] enabled",
                               "[status] port",
                               "[etcd3] endpoints",
                               "[etcd3] transaction_timeout_ms",
                               "[etcd3] ca_path",
                               "[backend] type",
                               "[backend] sqlite_path",
                               NULL };
        for (size_t i = 0; want[i]; i++) {
                assert_non_null(keys[i]);
                assert_string_equal(keys[i], want[i]);
        }
        assert_int_equal(strv_length(keys), 10);
        strv_free(keys);

        lock_config_free(a);
}

/* A missing configuration is a programmer error: the process aborts (assert) rather than carry on. */
static void test_restart_keys_null(void **state)
{
#ifdef NDEBUG
        skip();
#else
        LockConfig *a = parse(airlock, NULL);
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                char **keys = NULL;
                int null = open("/dev/null", O_WRONLY);
                /* neither a core dump nor the assertion's message for the expected abort */
                setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
                if (null >= 0)
                        dup2(null, STDERR_FILENO);
                lock_config_restart_keys(a, NULL, &keys);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
        lock_config_free(a);
#endif
}

/* [service] connection limits, request deadline, TLS priorities and [auth] node_tokens_file: defaults,
 * values, bounds, and that a reload reports each as needing a restart. */
static void test_service_limits(void **state)
{
        LockConfig *c = parse("", NULL), *d;
        char **keys = NULL;

        assert_int_equal(c->max_connections, 4096);
        assert_int_equal(c->max_connections_per_address, 32);
        assert_int_equal(c->request_timeout_secs, 10);
        assert_null(c->tls_priorities);
        assert_null(c->node_tokens_file);
        d = parse("[service]\nmax_connections = 100\nmax_connections_per_address = 5\n"
                  "request_timeout_secs = 3\ntls_priorities = \"SECURE256\"\n"
                  "[auth]\nnode_tokens_file = \"/etc/t\"\n",
                  NULL);
        assert_int_equal(d->max_connections, 100);
        assert_int_equal(d->max_connections_per_address, 5);
        assert_int_equal(d->request_timeout_secs, 3);
        assert_string_equal(d->tls_priorities, "SECURE256");
        assert_string_equal(d->node_tokens_file, "/etc/t");
        assert_int_equal(lock_config_restart_keys(c, d, &keys), 0);
        assert_non_null(keys);
        assert_string_equal(keys[0], "[service] max_connections");
        assert_string_equal(keys[1], "[service] max_connections_per_address");
        assert_string_equal(keys[2], "[service] request_timeout_secs");
        assert_string_equal(keys[3], "[service] tls_priorities");
        assert_string_equal(keys[4], "[auth] node_tokens_file");
        assert_null(keys[5]);
        strv_free(keys);
        lock_config_free(c);
        lock_config_free(d);
        expect_error("[service]\nmax_connections = 0\n", "max_connections");
        expect_error("[service]\nmax_connections_per_address = 0\n", "max_connections_per_address");
        expect_error("[service]\nrequest_timeout_secs = 3601\n", "request_timeout_secs");
}

#define TOKEN_A "0123456789abcdef0123456789abcdef"
#define TOKEN_B "fedcba9876543210fedcba9876543210"

static int node_tokens_error(const char *text, const char *want)
{
        LockNodeTokens *t = NULL;
        Error e = { { 0 } };
        int r = lock_node_tokens_parse(text, strlen(text), "tokens", &t, &e);

        assert_null(t);
        if (!strstr(e.message, want))
                fail_msg("'%s' does not contain '%s'", e.message, want);
        return r;
}

static void test_node_tokens(void **state)
{
        static const char text[] = "# node token\n\n  node-a " TOKEN_A "\r\n"
                                   "node-b\t" TOKEN_B "  \n";
        LockNodeTokens *t = NULL;
        Error e = { { 0 } };

        assert_int_equal(lock_node_tokens_parse(text, strlen(text), "tokens", &t, &e), 0);
        assert_int_equal(t->n, 2);
        assert_string_equal(t->items[0].node, "node-a");
        assert_string_equal(t->items[0].token, TOKEN_A);
        assert_string_equal(t->items[1].node, "node-b");
        /* A node's own token; another node's (refused: -EPERM); nobody's; none; not a bearer. */
        assert_int_equal(lock_node_tokens_check(t, "Bearer " TOKEN_A, "node-a"), 1);
        assert_int_equal(lock_node_tokens_check(t, "bearer  " TOKEN_B, "node-b"), 1);
        assert_int_equal(lock_node_tokens_check(t, "Bearer " TOKEN_B, "node-a"), -EPERM);
        assert_int_equal(lock_node_tokens_check(t, "Bearer " TOKEN_A, "node-c"), -EPERM);
        assert_int_equal(lock_node_tokens_check(t, "Bearer " TOKEN_A "x", "node-a"), 0);
        assert_int_equal(lock_node_tokens_check(t, "Bearer 0123456789abcdef", "node-a"), 0);
        assert_int_equal(lock_node_tokens_check(t, NULL, "node-a"), 0);
        assert_int_equal(lock_node_tokens_check(t, TOKEN_A, "node-a"), 0);
        lock_node_tokens_free(t);

        assert_int_equal(lock_node_tokens_parse("", 0, "tokens", &t, &e), 0);
        assert_int_equal(t->n, 0);
        assert_int_equal(lock_node_tokens_check(t, "Bearer " TOKEN_A, "node-a"), 0);
        lock_node_tokens_free(t);

        assert_int_equal(node_tokens_error("a " TOKEN_A "\nb\n", "tokens:2: expected NODE_ID TOKEN"),
                         -EINVAL);
        assert_int_equal(node_tokens_error("a " TOKEN_A " extra\n", "tokens:1: expected"), -EINVAL);
        assert_int_equal(node_tokens_error("a short\n", "tokens:1: the token of a is shorter than 32"),
                         -EINVAL);
        assert_int_equal(
                node_tokens_error("a " TOKEN_A "\na " TOKEN_B "\n", "tokens:2: node a is listed twice"),
                -EINVAL);
        assert_int_equal(
                node_tokens_error("a " TOKEN_A "\nb " TOKEN_A "\n", "tokens:2: the token of b is also a's"),
                -EINVAL);
        assert_int_equal(node_tokens_error("a\x01 " TOKEN_A "\n", "tokens:1: expected"), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_airlock_unchanged), cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_upkeep_keys),       cmocka_unit_test(test_errors),
                cmocka_unit_test(test_restart_keys),      cmocka_unit_test(test_restart_keys_null),
                cmocka_unit_test(test_airlock_groups),    cmocka_unit_test(test_group_names),
                cmocka_unit_test(test_status_tls),        cmocka_unit_test(test_generated_token_path),
                cmocka_unit_test(test_service_limits),    cmocka_unit_test(test_node_tokens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

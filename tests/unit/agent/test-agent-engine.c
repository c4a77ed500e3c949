/* test-agent-engine.c — the engine thread driven by a fake worker (a shell script answering each command
 * from files the test writes): an update is checked, staged (progress counted) and finalized; a dead-end
 * writes the MOTD; the worker's error kinds are counted per kind; an unknown decision is a graph error;
 * update-now asks as the most eager node; stopping interrupts a worker in flight. The boot assessment
 * (agent-health.h): finalizing writes health.json; a green check releases, a red one with nothing to
 * roll back to stops for a human (MOTD, status, no update check); a bad release is never staged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-engine.h"
#include "agent-motd.h"
#include "fileio.h"
#include "macros.h"
#include "time-util.h"

static char dir[] = "/tmp/test-agent-engine-XXXXXX";
static char worker[PATH_MAX + 32], requests[PATH_MAX + 32], motd_dir[PATH_MAX + 32];
static char state_dir[PATH_MAX + 32], check_root[PATH_MAX + 32];

/* Answers: status from the booted deployment; check with the file "check" (a shell snippet); stage with
 * a progress line; finalize saying rpm-ostree reboots the host (so no reboot command runs). */
static const char WORKER_SCRIPT[] =
        "#!/bin/sh\n"
        "d=$(dirname \"$0\")\n"
        "req=$(cat)\n"
        "echo \"$req\" >> \"$d/requests\"\n"
        "case \"$req\" in\n"
        "*'\"command\":\"status\"'*)\n"
        "  echo "
        "'{\"ok\":true,\"deployments\":[{\"osname\":\"fcos\",\"checksum\":\"c1\",\"version\":\"41.1\","
        "\"stream\":\"stable\",\"serial\":0,\"booted\":true,\"staged\":false,\"rollback\":false}]}' ;;\n"
        "*'\"command\":\"check\"'*)\n"
        "  . \"$d/check\" ;;\n"
        "*'\"command\":\"stage\"'*)\n"
        "  echo '{\"progress\":{\"bytes\":100,\"fetched\":1,\"requested\":2}}'\n"
        "  echo '{\"ok\":true,\"reboots\":false}' ;;\n"
        "*'\"command\":\"finalize\"'*)\n"
        "  echo '{\"ok\":true,\"reboots\":true}' ;;\n"
        "esac\n";

#define DEPLOYMENTS                                                                                         \
        "\"deployments\":[{\"osname\":\"fcos\",\"checksum\":\"c1\",\"version\":\"41.1\",\"stream\":"        \
        "\"stable\",\"serial\":0,\"booted\":true,\"staged\":false,\"rollback\":false}]"

static void put(const char *name, const char *text, mode_t mode)
{
        char path[PATH_MAX + 32];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

/* The check answer: a shell snippet that prints the result line. */
static void check_answers(const char *line)
{
        char snippet[4096];
        snprintf(snippet, sizeof snippet, "echo '%s'\n", line);
        put("check", snippet, 0644);
}

/* The configuration; extra is more of [identity]. */
static AgentConfig *config(const char *extra)
{
        char toml[4096];
        AgentConfig *c = NULL;
        Error e = {};

        snprintf(toml, sizeof toml,
                 "[agent.timing]\nsteady_interval_secs = 3600\n"
                 "[cincinnati]\nbase_url = \"http://127.0.0.1:1\"\n"
                 "[updates]\nstrategy = \"immediate\"\n"
                 "[upkeep]\nreboot_method = \"command\"\nreboot_command = [\"/bin/false\"]\n"
                 "motd_dir = \"%s\"\nstate_dir = \"%s\"\n"
                 "[health]\ncheck_root = \"%s\"\n"
                 "[identity]\ngroup = \"default\"\nnode_uuid = \"0123456789abcdef0123456789abcdef\"\n%s",
                 motd_dir, state_dir, check_root, extra);
        assert_int_equal(agent_config_merge(
                                 &(AgentFragment){ .path = "test.toml", .data = toml, .len = strlen(toml) },
                                 1, &c, NULL, &e),
                         0);
        return c;
}

static Engine *start(const AgentConfig *c)
{
        Engine *e = NULL;
        Error err = {};

        assert_int_equal(engine_new(&(EngineSetup){ .config = c,
                                                    .worker_path = worker,
                                                    .node_uuid = "0123456789abcdef0123456789abcdef",
                                                    .basearch = "x86_64",
                                                    .platform = "qemu" },
                                    &e, &err),
                         0);
        assert_int_equal(engine_start(e), 0);
        return e;
}

/* Zincati takes any positive interval: the longest TOML integer still starts the engine (capped timer). */
static void test_longest_interval(void **state)
{
        char toml[1024];
        AgentConfig *c = NULL;
        Engine *e = NULL;
        Error err = {};

        snprintf(toml, sizeof toml,
                 "[agent.timing]\nsteady_interval_secs = 9223372036854775807\n"
                 "[cincinnati]\nbase_url = \"http://127.0.0.1:1\"\n"
                 "[upkeep]\nmotd_dir = \"%s\"\n",
                 motd_dir);
        assert_int_equal(agent_config_merge(
                                 &(AgentFragment){ .path = "test.toml", .data = toml, .len = strlen(toml) },
                                 1, &c, NULL, &err),
                         0);
        assert_int_equal(engine_new(&(EngineSetup){ .config = c,
                                                    .worker_path = worker,
                                                    .node_uuid = "0123456789abcdef0123456789abcdef",
                                                    .basearch = "x86_64",
                                                    .platform = "qemu" },
                                    &e, &err),
                         0);
        engine_free(e);
        agent_config_free(c);
}

typedef bool (*SnapshotTest)(const AgentSnapshot *s);

/* Waits up to 20 s for the engine's snapshot to pass test; the last snapshot is left in *s. */
static bool wait_for(Engine *e, SnapshotTest test, AgentSnapshot *s)
{
        uint64_t deadline = now_msec(CLOCK_MONOTONIC) + 20000;

        do {
                engine_snapshot(e, s);
                if (test(s))
                        return true;
                usleep(20000);
        } while (now_msec(CLOCK_MONOTONIC) < deadline);
        return false;
}

static char *requests_log(void)
{
        char *data = NULL;
        size_t len;
        return read_full_file(requests, 1 << 20, &data, &len) < 0 ? NULL : data;
}

static bool finalized(const AgentSnapshot *s)
{
        return s->state == AGENT_STATE_UPDATE_FINALIZED || s->state == AGENT_STATE_END;
}

static void test_update_staged_and_finalized(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        _cleanup_free_ char *log = NULL;
        Engine *e;

        check_answers("{\"ok\":true,\"url\":\"http://x\"," DEPLOYMENTS ",\"graph\":{\"nodes\":3,\"edges\":2,"
                      "\"ignored\":0},\"decision\":\"update\",\"deadend\":false,\"target\":{\"version\":"
                      "\"41.2\",\"payload\":\"c2\"}}");
        e = start(c);
        assert_true(wait_for(e, finalized, s));
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);

        assert_string_equal(s->booted.version, "41.1");
        assert_string_equal(s->stream, "stable");
        assert_int_equal(s->graph_nodes, 3);
        assert_int_equal(s->graph_edges, 2);
        assert_int_equal(s->download_bytes_total, 100); /* the stage's progress line */
        assert_int_equal(s->download_objects_total, 1);
        assert_false(s->downloading);
        assert_string_equal(s->target.version, "41.2");
        assert_int_equal(s->deploy_attempts, 1);
        assert_int_equal(s->deploy_failures, 0);
        assert_string_equal(s->last_check_result, "update available: 41.2");
        free(s);

        log = requests_log();
        assert_non_null(log);
        /* each request names the OS layer; the check carries the identity; the stage and finalize the
         * release */
        assert_non_null(strstr(log, "\"command\":\"check\""));
        assert_non_null(strstr(log, "\"node_uuid\":\"0123456789abcdef0123456789abcdef\""));
        assert_non_null(strstr(log, "\"release\":{\"version\":\"41.2\",\"payload\":\"c2\"}"));
        assert_non_null(strstr(log, "\"command\":\"finalize\""));
        /* the booted deployment seen first is pinned in later requests */
        assert_non_null(strstr(log, "\"booted\":{\"osname\":\"fcos\",\"checksum\":\"c1\",\"serial\":0}"));

        /* the boot assessment's record, written before finalizing */
        char path[PATH_MAX + 64], *rec = NULL;
        size_t len;
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        assert_int_equal(read_full_file(path, 4096, &rec, &len), 0);
        assert_string_equal(
                rec, "{\"attempts_left\": 2, \"from\": {\"checksum\": \"c1\", \"version\": \"41.1\"}, "
                     "\"phase\": \"finalized\", \"to\": {\"checksum\": \"c2\", \"version\": \"41.2\"}}\n");
        free(rec);
}

/* A file under dir (parents created). */
static void put_path(const char *rel, const char *text, mode_t mode)
{
        char cmd[PATH_MAX * 2];
        snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s/%s')\"", dir, rel);
        assert_int_equal(system(cmd), 0);
        put(rel, text, mode);
}

/* The node booted c1 after finalizing it (a record from c0), with one required check. */
static void assessed_boot(const char *check_script)
{
        put_path("state/health.json",
                 "{\"phase\":\"finalized\",\"attempts_left\":0,\"to\":{\"version\":\"41.1\",\"checksum\":"
                 "\"c1\"},\"from\":{\"version\":\"41.0\",\"checksum\":\"c0\"}}\n",
                 0644);
        put_path("checks/etc/upkeep/check/required.d/10-app.sh", check_script, 0644);
        check_answers("{\"ok\":true,\"url\":\"http://x\"," DEPLOYMENTS ",\"graph\":{\"nodes\":1,\"edges\":0,"
                      "\"ignored\":0},\"decision\":\"no_update\",\"deadend\":false}");
}

static bool health_terminal(const AgentSnapshot *s)
{
        return streq(s->health.state, "succeeded") || streq(s->health.state, "manual");
}

static void test_health_green(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        char path[PATH_MAX + 64];
        Engine *e;

        assessed_boot("echo all good\nexit 0\n");
        e = start(c);
        assert_true(wait_for(e, health_terminal, s));
        assert_string_equal(s->health.state, "succeeded");
        assert_string_equal(s->health.booted_version, "41.1");
        assert_int_equal(s->health.n_checks, 1);
        assert_string_equal(s->health.checks[0].name, "10-app.sh");
        assert_true(s->health.checks[0].ok && s->health.checks[0].required);
        assert_string_equal(s->health.checks[0].output, "all good\n");
        assert_false(s->health.manual_intervention);
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        free(s);
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        assert_int_equal(access(path, F_OK), -1); /* the assessment is over */
}

static void test_health_red_manual(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        _cleanup_free_ char *log = NULL, *motd = NULL;
        char path[PATH_MAX + 64];
        size_t len;
        Engine *e;

        assessed_boot("echo broken >&2\nexit 1\n");
        e = start(c);
        assert_true(wait_for(e, health_terminal, s));
        usleep(300000); /* give it the time to (wrongly) go on */
        engine_snapshot(e, s);
        assert_string_equal(s->health.state, "manual");
        assert_true(s->health.manual_intervention);
        assert_string_equal(s->health.failed, "10-app.sh");
        assert_false(s->health.checks[0].ok);
        assert_string_equal(s->health.checks[0].output, "broken\n");
        assert_true(s->health.checks_failed == 1);
        assert_int_not_equal(s->state, AGENT_STATE_NO_NEW_UPDATE); /* stuck before steady-state */
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        free(s);
        log = requests_log();
        assert_non_null(log);
        assert_null(strstr(log, "\"command\":\"check\"")); /* no update check */
        snprintf(path, sizeof path, "%s/%s", motd_dir, AGENT_MOTD_HEALTH_FILE);
        assert_int_equal(read_full_file(path, 4096, &motd, &len), 0);
        assert_non_null(strstr(motd, "manual intervention"));
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        assert_int_equal(access(path, F_OK), 0); /* kept for the operator */
}

static bool checked(const AgentSnapshot *s)
{
        return s->last_check_result[0] != 0;
}

static void test_bad_release_not_staged(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        _cleanup_free_ char *log = NULL;
        Engine *e;

        put_path("state/bad-releases.json",
                 "{\"bad_releases\":[{\"version\":\"41.2\",\"checksum\":\"c2\",\"outcome\":\"rolled_back\","
                 "\"reason\":\"10-app.sh failed\",\"checks\":[\"10-app.sh\"],\"when\":1767225600}]}\n",
                 0644);
        /* the fake worker ignores the denylist: the engine itself must refuse the release */
        check_answers("{\"ok\":true,\"url\":\"http://x\"," DEPLOYMENTS ",\"graph\":{\"nodes\":3,\"edges\":2,"
                      "\"ignored\":0},\"decision\":\"update\",\"deadend\":false,\"target\":{\"version\":"
                      "\"41.2\",\"payload\":\"c2-rebuilt\"}}");
        e = start(c);
        assert_true(wait_for(e, checked, s));
        assert_string_equal(s->last_check_result, "no update (41.2 is recorded as bad)");
        assert_int_equal(s->health.n_bad_releases, 1);
        assert_string_equal(s->health.bad_releases[0].version, "41.2");
        assert_int_equal(s->health.rollbacks_total, 1);
        assert_int_equal(s->deploy_attempts, 0);
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        free(s);
        log = requests_log();
        assert_non_null(log);
        assert_non_null(strstr(log, "\"failed\":[\"c2\"]")); /* the bad checksum is denylisted */
        assert_null(strstr(log, "\"command\":\"stage\""));
}

static bool dead_end(const AgentSnapshot *s)
{
        return s->dead_end && s->last_check_result[0];
}

static void test_dead_end_motd(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        _cleanup_free_ char *motd = NULL;
        char path[PATH_MAX + 64];
        size_t len;
        Engine *e;

        check_answers("{\"ok\":true," DEPLOYMENTS ",\"graph\":{\"nodes\":1,\"edges\":0,\"ignored\":0},"
                      "\"decision\":\"no_update\",\"deadend\":true,\"deadend_reason\":\"unsupported\"}");
        e = start(c);
        assert_true(wait_for(e, dead_end, s));
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        assert_string_equal(s->dead_end_reason, "unsupported");
        assert_string_equal(s->last_check_result, "dead-end: unsupported");
        free(s);

        snprintf(path, sizeof path, "%s/%s", motd_dir, AGENT_MOTD_FILE);
        assert_int_equal(read_full_file(path, 4096, &motd, &len), 0);
        assert_non_null(strstr(motd, "dead-end and will not further auto-update: unsupported"));
        assert_int_equal(unlink(path), 0);
}

static bool check_failed(const AgentSnapshot *s)
{
        for (size_t i = 0; i < _AGENT_CHECK_ERROR_MAX; i++)
                if (s->check_errors[i] > 0)
                        return true;
        return false;
}

/* One failed check with the worker's answer; returns which counter moved (the others must not), and the
 * one kind counted for the metrics must be metric_kind (Zincati's). */
static AgentCheckErrorKind failed_check(const char *answer, const char *error, const char *metric_kind)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        int kind = -1;
        Engine *e;

        check_answers(answer);
        e = start(c);
        assert_true(wait_for(e, check_failed, s));
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        for (int i = 0; i < _AGENT_CHECK_ERROR_MAX; i++)
                if (s->check_errors[i] > 0) {
                        assert_int_equal(kind, -1);
                        kind = i;
                }
        assert_string_equal(s->last_error, error);
        assert_int_equal(s->state, AGENT_STATE_REPORTED_STEADY);
        assert_int_equal(s->n_check_error_kinds, 1);
        assert_string_equal(s->check_error_kinds[0].kind, metric_kind);
        assert_true(s->check_error_kinds[0].count == 1);
        free(s);
        return kind;
}

static void test_check_errors_by_kind(void **state)
{
        assert_int_equal(failed_check("{\"ok\":false,\"error\":\"refused\",\"errno\":111,\"error_kind\":"
                                      "\"connection\"}",
                                      "update check: refused", "client_failed_request"),
                         AGENT_CHECK_ERROR_CONNECTION);
        assert_int_equal(failed_check("{\"ok\":false,\"error\":\"HTTP 500\",\"errno\":71,\"error_kind\":"
                                      "\"http_status\"}",
                                      "update check: HTTP 500", "generic_http"),
                         AGENT_CHECK_ERROR_HTTP_STATUS);
        assert_int_equal(failed_check("{\"ok\":false,\"error\":\"bad graph\",\"errno\":22,\"error_kind\":"
                                      "\"graph_parse\"}",
                                      "update check: bad graph", "client_failed_json_decoding"),
                         AGENT_CHECK_ERROR_GRAPH_PARSE);
        /* the worker's Zincati kind: generic_http_NNN or the server's own kind */
        assert_int_equal(failed_check("{\"ok\":false,\"error\":\"HTTP 503\",\"errno\":71,\"error_kind\":"
                                      "\"http_status\",\"metric_kind\":\"failed_upstream_fetch\"}",
                                      "update check: HTTP 503", "failed_upstream_fetch"),
                         AGENT_CHECK_ERROR_HTTP_STATUS);
        /* other kinds, or none, are the node's own ("identity") */
        assert_int_equal(
                failed_check("{\"ok\":false,\"error\":\"no sysroot\",\"errno\":2,\"error_kind\":\"os\"}",
                             "update check: no sysroot", "identity"),
                AGENT_CHECK_ERROR_IDENTITY);
        assert_int_equal(failed_check("{\"ok\":true," DEPLOYMENTS ",\"decision\":\"sideways\"}",
                                      "update check: the worker sent an unknown decision",
                                      "client_failed_json_decoding"),
                         AGENT_CHECK_ERROR_GRAPH_PARSE);
        assert_int_equal(failed_check("{\"ok\":true," DEPLOYMENTS ",\"decision\":\"update\",\"target\":"
                                      "{\"version\":\"\",\"payload\":\"c2\"}}",
                                      "update check: target release has a bad version or payload",
                                      "client_failed_node_parsing"),
                         AGENT_CHECK_ERROR_GRAPH_PARSE);
        assert_int_equal(failed_check("garbage",
                                      "update check: the worker wrote a line that is not a JSON object",
                                      "identity"),
                         AGENT_CHECK_ERROR_IDENTITY);
}

static bool checked_once(const AgentSnapshot *s)
{
        return s->checks >= 1 && s->last_check_result[0];
}

static bool checked_twice(const AgentSnapshot *s)
{
        return s->checks >= 2;
}

static void test_update_now_is_eager(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("rollout_wariness = 0.75\n");
        AgentSnapshot *s = malloc(sizeof *s);
        _cleanup_free_ char *log = NULL;
        Engine *e;

        check_answers("{\"ok\":true," DEPLOYMENTS ",\"graph\":{\"nodes\":1,\"edges\":0,\"ignored\":0},"
                      "\"decision\":\"no_update\",\"deadend\":false}");
        e = start(c);
        assert_true(wait_for(e, checked_once, s)); /* the first check, at the configured wariness */
        engine_update_now(e);
        assert_true(wait_for(e, checked_twice, s));
        assert_int_equal(engine_stop(e, 5000), 0);
        engine_free(e);
        assert_string_equal(s->last_check_result, "no update");
        free(s);

        log = requests_log();
        char *first = strstr(log, "\"rollout_wariness\":0.75");
        assert_non_null(first);
        assert_non_null(strstr(first, "\"rollout_wariness\":0.0"));
}

static void test_stop_interrupts_worker(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = config("");
        AgentSnapshot *s = malloc(sizeof *s);
        char marker[PATH_MAX + 32], snippet[PATH_MAX + 128];
        Engine *e;

        snprintf(marker, sizeof marker, "%s/checking", dir);
        snprintf(snippet, sizeof snippet, "touch '%s'\nexec sleep 60\n", marker);
        put("check", snippet, 0644);
        e = start(c);
        for (int i = 0; i < 1000 && access(marker, F_OK) < 0; i++)
                usleep(20000);
        assert_int_equal(access(marker, F_OK), 0);

        uint64_t t0 = now_msec(CLOCK_MONOTONIC);
        assert_int_equal(engine_stop(e, 5000), 0); /* the worker got SIGTERM; the thread returned */
        assert_true(now_msec(CLOCK_MONOTONIC) - t0 < 5000);
        engine_snapshot(e, s);
        assert_true(s->check_errors[AGENT_CHECK_ERROR_IDENTITY] == 1); /* the interrupted check failed */
        engine_free(e);
        free(s);
}

static int setup_test(void **state)
{
        char cmd[PATH_MAX * 3];

        (void)unlink(requests);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", state_dir, check_root, motd_dir);
        return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
        signal(SIGPIPE, SIG_IGN);
        if (!mkdtemp(dir))
                return -1;
        snprintf(worker, sizeof worker, "%s/worker", dir);
        snprintf(requests, sizeof requests, "%s/requests", dir);
        snprintf(motd_dir, sizeof motd_dir, "%s/motd.d", dir);
        snprintf(state_dir, sizeof state_dir, "%s/state", dir);
        snprintf(check_root, sizeof check_root, "%s/checks", dir);
        put("worker", WORKER_SCRIPT, 0755);
        return 0;
}

static int teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_longest_interval, setup_test),
                cmocka_unit_test_setup(test_update_staged_and_finalized, setup_test),
                cmocka_unit_test_setup(test_dead_end_motd, setup_test),
                cmocka_unit_test_setup(test_check_errors_by_kind, setup_test),
                cmocka_unit_test_setup(test_update_now_is_eager, setup_test),
                cmocka_unit_test_setup(test_stop_interrupts_worker, setup_test),
                cmocka_unit_test_setup(test_health_green, setup_test),
                cmocka_unit_test_setup(test_health_red_manual, setup_test),
                cmocka_unit_test_setup(test_bad_release_not_staged, setup_test),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

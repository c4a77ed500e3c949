/* test-worker-call.c — running a real child as the worker: the request reaches its stdin, progress lines
 * reach the callback (also when a line arrives in pieces), the result comes back; a worker that hangs is
 * killed at the timeout, one that writes garbage, too long a line, dies by a signal or exits without a
 * result is an error that says so, as is a worker that cannot be started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "json-util.h"
#include "time-util.h"
#include "worker-call.h"

static char dir[] = "/tmp/test-worker-call-XXXXXX";

/* Writes an executable shell script named name with body; returns its path (static storage per call). */
static const char *script(const char *name, const char *body)
{
        static char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n%s\n", body);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0755), 0);
        return path;
}

typedef struct Seen {
        unsigned calls;
        WorkerProgress last;
        pid_t *slot;
        pid_t pid_while_running;
} Seen;

static void on_progress(const WorkerProgress *p, void *userdata)
{
        Seen *s = userdata;
        s->calls++;
        s->last = *p;
        if (s->slot)
                s->pid_while_running = __atomic_load_n(s->slot, __ATOMIC_SEQ_CST);
}

static void test_result_and_progress(void **state)
{
        char req_path[PATH_MAX], body[PATH_MAX + 512];
        _cleanup_free_ char *got = NULL;
        _cleanup_json_ json_t *res = NULL;
        pid_t slot = -1;
        Seen seen = { .slot = &slot };
        size_t len;
        Error e = {};

        snprintf(req_path, sizeof req_path, "%s/request", dir);
        snprintf(body, sizeof body,
                 "cat > %s\n"
                 "echo '{\"progress\":{\"bytes\":10,\"fetched\":1,\"requested\":4}}'\n"
                 "printf '{\"progress\":{\"bytes\":20,'\n"
                 "sleep 0.2\n"
                 "printf '\"fetched\":2,\"requested\":4}}\\n{\"ok\":true,\"reboots\":false}\\n'\n",
                 req_path);
        assert_int_equal(worker_call(script("ok.sh", body), "{\"command\":\"status\"}", 10, &slot,
                                     on_progress, &seen, &res, &e),
                         0);
        assert_true(json_is_true(json_object_get(res, "ok")));
        assert_true(json_is_false(json_object_get(res, "reboots")));
        assert_int_equal(seen.calls, 2);
        assert_int_equal(seen.last.bytes, 20);
        assert_int_equal(seen.last.fetched, 2);
        assert_int_equal(seen.last.requested, 4);
        assert_true(seen.pid_while_running > 0); /* the slot held the worker's pid while it ran */
        assert_int_equal(slot, 0);               /* and is cleared after */
        assert_int_equal(read_full_file(req_path, 4096, &got, &len), 0);
        assert_string_equal(got, "{\"command\":\"status\"}");
}

static void test_failure_result_is_returned(void **state)
{
        _cleanup_json_ json_t *res = NULL;
        Error e = {};

        /* a failure the worker reports is its result: the caller decodes it (worker_result_check) */
        assert_int_equal(worker_call(script("fail.sh", "cat >/dev/null\n"
                                                       "echo '{\"ok\":false,\"error\":\"no\",\"errno\":5}'\n"
                                                       "exit 0"),
                                     "{}", 10, NULL, NULL, NULL, &res, &e),
                         0);
        assert_true(json_is_false(json_object_get(res, "ok")));
        assert_int_equal(worker_result_check(res, NULL, &e), -EIO);
        assert_string_equal(e.message, "no");
}

static void test_timeout(void **state)
{
        json_t *res = NULL;
        pid_t slot = -1;
        Error e = {};
        uint64_t start = now_msec(CLOCK_MONOTONIC);

        assert_int_equal(
                worker_call(script("hang.sh", "exec sleep 30"), "{}", 1, &slot, NULL, NULL, &res, &e),
                -ETIMEDOUT);
        assert_true(now_msec(CLOCK_MONOTONIC) - start < 5000); /* killed, not waited for */
        assert_null(res);
        assert_int_equal(slot, 0);
        assert_non_null(strstr(e.message, "no result after 1 s, killed"));
}

static void check_error(const char *name, const char *body, int error, const char *message)
{
        json_t *res = NULL;
        Error e = {};

        assert_int_equal(worker_call(script(name, body), "{}", 10, NULL, NULL, NULL, &res, &e), error);
        assert_null(res);
        assert_non_null(strstr(e.message, message));
}

static void test_bad_output(void **state)
{
        check_error("garbage.sh", "echo hello", -EBADMSG, "not a JSON object");
        check_error("array.sh", "echo '[1,2]'", -EBADMSG, "not a JSON object");
        check_error("bad-progress.sh", "echo '{\"progress\":true}'", -EBADMSG, "progress line");
        /* garbage after a good result still fails the call */
        check_error("late-garbage.sh", "echo '{\"ok\":true}'; echo '{'", -EBADMSG, "not a JSON object");
}

static void test_line_too_long(void **state)
{
        check_error("long.sh", "head -c 5000000 /dev/zero | tr '\\0' ' '", -E2BIG,
                    "larger than 4194304 bytes");
}

static void test_worker_dies(void **state)
{
        check_error("killed.sh", "kill -9 $$", -EIO, "killed by signal 9");
        check_error("exit.sh", "exit 3", -EIO, "exit status 3 without a result");
        /* a result line without its newline is no result */
        check_error("partial.sh", "printf '{\"ok\":true}'", -EIO, "exit status 0 without a result");
}

static void test_cannot_start(void **state)
{
        char path[PATH_MAX + 32];
        json_t *res = NULL;
        Error e = {};

        snprintf(path, sizeof path, "%s/missing", dir);
        assert_int_equal(worker_call(path, "{}", 10, NULL, NULL, NULL, &res, &e), -ENOENT);
        assert_non_null(strstr(e.message, "starting "));
        assert_null(res);
}

static int setup(void **state)
{
        signal(SIGPIPE, SIG_IGN); /* as in the daemon: a worker that exits early is told by its status */
        return mkdtemp(dir) ? 0 : -1;
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
                cmocka_unit_test(test_result_and_progress),
                cmocka_unit_test(test_failure_result_is_returned),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_bad_output),
                cmocka_unit_test(test_line_too_long),
                cmocka_unit_test(test_worker_dies),
                cmocka_unit_test(test_cannot_start),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* test-log.c — unit tests for src/io/log.c: journald prefixes and levels, "%m" naming the error passed
 * in, errno kept, and held lines written in one piece and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "test-util.h"

static void log_some(void)
{
        log_set_prefix(1);
        log_set_max_level(LOG_INFO);
        log_info("hello %d", 1);
        log_debug("hidden");
        assert_int_equal(log_error_errno(ENOENT, "missing %s", "x"), -ENOENT);
        assert_int_equal(log_warning_errno(-EINVAL, "bad"), -EINVAL);
        log_set_prefix(0);
        log_notice("plain");
}

static void test_log(void **state)
{
        char *out = test_capture_stderr(log_some);
        assert_string_equal(out, "<6>hello 1\n<3>missing x\n<4>bad\nplain\n");
        free(out);
}

static void log_errors(void)
{
        log_set_prefix(0);
        log_set_max_level(LOG_INFO);

        /* "%m" is the error passed in (either sign), not errno; errno is unchanged on return. */
        errno = EBUSY;
        assert_int_equal(log_error_errno(-ENOENT, "open %s: %m", "/x"), -ENOENT);
        assert_int_equal(errno, EBUSY);
        assert_int_equal(log_warning_errno(EACCES, "%m"), -EACCES);
        assert_int_equal(errno, EBUSY);

        /* Without an error, "%m" is errno, still unchanged on return. */
        errno = EPERM;
        log_info("plain %m");
        assert_int_equal(errno, EPERM);

        /* A message below the level is not written; errno is still kept and the error returned. */
        errno = EINTR;
        assert_int_equal(log_full_errno(LOG_DEBUG, ENOSPC, "hidden %m"), -ENOSPC);
        assert_int_equal(errno, EINTR);
        log_set_prefix(1);
}

static void test_log_percent_m(void **state)
{
        char *out = test_capture_stderr(log_errors), want[512];

        snprintf(want, sizeof(want), "open /x: %s\n%s\nplain %s\n", strerror(ENOENT), strerror(EACCES),
                 strerror(EPERM));
        assert_string_equal(out, want);
        free(out);
}

/* What stderr received since its offset off in the temporary file behind it. */
static size_t stderr_since(int fd, off_t off, char *buf, size_t size)
{
        ssize_t n = pread(fd, buf, size - 1, off);
        assert_true(n >= 0);
        buf[n] = 0;
        return (size_t)n;
}

static void test_log_hold(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        static char buf[32768], want[32768];
        size_t n;

        assert_true(fd >= 0 && saved >= 0);
        unlink(path);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        log_set_prefix(1);

        /* Not held: at once, with the journald prefix. */
        log_info("one %d", 1);
        stderr_since(fd, 0, buf, sizeof(buf));
        assert_string_equal(buf, "<6>one 1\n");

        /* Held, nested: nothing until the outer release, then in order; errno kept. */
        log_hold();
        log_warning("two");
        log_hold();
        log_info("three");
        log_release();
        assert_int_equal(stderr_since(fd, 9, buf, sizeof(buf)), 0);
        errno = EBUSY;
        log_release();
        assert_int_equal(errno, EBUSY);
        stderr_since(fd, 9, buf, sizeof(buf));
        assert_string_equal(buf, "<4>two\n<6>three\n");

        /* More than the buffer holds: written early, nothing lost, order kept. */
        log_hold();
        want[0] = 0;
        for (int i = 0; i < 200; i++) {
                char line[128];
                snprintf(line, sizeof(line), "<6>line %03d %s\n", i,
                         "............................................");
                strcat(want, line);
                log_info("line %03d %s", i, "............................................");
        }
        n = stderr_since(fd, 25, buf, sizeof(buf));
        assert_true(n > 0 && n < strlen(want));
        log_release();
        stderr_since(fd, 25, buf, sizeof(buf));
        assert_string_equal(buf, want);

        /* A line longer than the line buffer is cut, still one line. */
        memset(want, 'x', 4000);
        want[4000] = 0;
        log_info("%s", want);
        n = stderr_since(fd, 25 + strlen(buf), want, sizeof(want));
        assert_int_equal(n, 2047);
        assert_int_equal(want[n - 1], '\n');
        assert_null(memchr(want, '\n', n - 1));

        /* A release without a hold does nothing. */
        log_release();
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log),
                cmocka_unit_test(test_log_percent_m),
                cmocka_unit_test(test_log_hold),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

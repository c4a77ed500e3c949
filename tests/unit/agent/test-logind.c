/* test-logind.c — the agent's host helpers that can be tested without logind: the warning written to
 * terminals (on a pseudo-terminal) and running the reboot command (exit codes, output, timeout). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "logind.h"
#include "macros.h"
#include "strutil.h"

static void test_tty_broadcast(void **state)
{
        char buf[256] = { 0 };
        const char *name;
        int master, n;

        master = posix_openpt(O_RDWR | O_NOCTTY);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        name = ptsname(master);
        assert_non_null(name);
        assert_true(startswith(name, "/dev/pts/"));

        char *ttys[] = { (char *)name + 5,
                         "../etc/passwd",
                         "pts/../../etc/shadow",
                         "/dev/tty1",
                         "",
                         "pts/999999",
                         NULL };
        n = tty_broadcast(ttys, "reboot soon\n");
        assert_int_equal(n, 1); /* only the real terminal; bad names are never opened */

        struct pollfd p = { .fd = master, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_true(read(master, buf, sizeof buf - 1) > 0);
        assert_non_null(strstr(buf, "reboot soon"));
        close(master);
        assert_int_equal(tty_broadcast(NULL, "x"), 0);
}

static void test_run_command(void **state)
{
        Error e = {};
        char *out = NULL;

        assert_int_equal(
                run_command((char *[]){ "/bin/sh", "-c", "echo hello; echo err >&2", NULL }, 10, &out, &e),
                0);
        assert_string_equal(out, "hello\nerr\n");
        free(out);

        assert_int_equal(
                run_command((char *[]){ "/bin/sh", "-c", "echo first; echo 'the reason'; exit 3", NULL }, 10,
                            NULL, &e),
                -EIO);
        assert_non_null(strstr(e.message, "exit status 3: the reason"));

        assert_int_equal(run_command((char *[]){ "/bin/sh", "-c", "kill -9 $$", NULL }, 10, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "killed by signal 9"));

        time_t t0 = time(NULL);
        assert_int_equal(run_command((char *[]){ "/bin/sleep", "30", NULL }, 1, NULL, &e), -ETIMEDOUT);
        assert_true(time(NULL) - t0 < 10);
        assert_non_null(strstr(e.message, "/bin/sleep: no result after 1 s"));

        assert_int_equal(run_command((char *[]){ "/nonexistent/reboot", NULL }, 10, NULL, &e), -ENOENT);
        assert_non_null(strstr(e.message, "/nonexistent/reboot: cannot start"));
        assert_int_equal(run_command((char *[]){ "reboot", NULL }, 10, NULL, &e), -EINVAL);
        assert_int_equal(run_command(NULL, 10, NULL, &e), -EINVAL);

        /* a chatty command: only the tail is kept, the rest does not grow memory */
        assert_int_equal(
                run_command((char *[]){ "/bin/sh", "-c",
                                        "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo END", NULL },
                            20, &out, &e),
                0);
        assert_true(strlen(out) <= COMMAND_MAX_OUTPUT);
        assert_non_null(strstr(out, "END\n"));
        free(out);
}

static void test_sessions_without_logind(void **state)
{
        /* Here (a container without a system bus) listing sessions fails with a message, never crashes. On a
         * host with logind it succeeds; both are fine. */
        char **ttys = NULL;
        size_t n = 0;
        Error e = {};
        int r = logind_interactive_sessions(&ttys, &n, &e);

        if (r < 0)
                assert_true(e.message[0] != 0);
        else {
                assert_non_null(ttys);
                for (char **t = ttys; *t; t++)
                        free(*t);
                free(ttys);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tty_broadcast),
                cmocka_unit_test(test_run_command),
                cmocka_unit_test(test_sessions_without_logind),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

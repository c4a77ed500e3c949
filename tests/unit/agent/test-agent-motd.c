/* test-agent-motd.c — the dead-end message of the day: written with the reason while the booted release is
 * a dead-end (rewritten when the reason changes), removed when it is over, a stale file of an earlier run
 * removed once at start, the directory created, and a write that fails reported with the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-motd.h"
#include "fileio.h"
#include "macros.h"

static char root[] = "/tmp/test-agent-motd-XXXXXX";
static char dir[PATH_MAX], file[PATH_MAX + 64];

static char *contents(void)
{
        char *data = NULL;
        size_t len;
        return read_full_file(file, 4096, &data, &len) < 0 ? NULL : data;
}

static void test_write_and_remove(void **state)
{
        AgentMotd m;
        Error e = {};
        char *text;

        agent_motd_init(&m, dir);
        assert_int_equal(agent_motd_update(&m, true, "end of life", &e), 0); /* the directory is made */
        text = contents();
        assert_non_null(text);
        assert_string_equal(text,
                            "This release is a dead-end and will not further auto-update: end of life\n");
        free(text);
        assert_int_equal(agent_motd_update(&m, true, "see https://example.org", &e), 0);
        text = contents();
        assert_non_null(strstr(text, "see https://example.org\n"));
        free(text);
        assert_int_equal(m.state, 1);

        assert_int_equal(agent_motd_update(&m, false, NULL, &e), 0);
        assert_int_equal(access(file, F_OK), -1);
        assert_int_equal(m.state, 0);
        /* no temporary file left behind */
        char tmp[PATH_MAX + 80];
        snprintf(tmp, sizeof tmp, "%s.tmp", file);
        assert_int_equal(access(tmp, F_OK), -1);
}

static void test_stale_removed_once(void **state)
{
        AgentMotd m;
        Error e = {};
        FILE *f;

        (void)mkdir(dir, 0755);
        f = fopen(file, "we");
        assert_non_null(f);
        fputs("stale\n", f);
        fclose(f);

        agent_motd_init(&m, dir);
        assert_int_equal(agent_motd_update(&m, false, NULL, &e), 0);
        assert_int_equal(access(file, F_OK), -1);

        /* from then on, a file that appears is not ours to remove */
        f = fopen(file, "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(agent_motd_update(&m, false, NULL, &e), 0);
        assert_int_equal(access(file, F_OK), 0);
        assert_int_equal(unlink(file), 0);
}

static void test_write_fails(void **state)
{
        char bad[PATH_MAX + 64];
        AgentMotd m;
        Error e = {};
        FILE *f;

        /* the directory is a regular file: nothing can be written under it */
        snprintf(bad, sizeof bad, "%s/not-a-dir", root);
        f = fopen(bad, "we");
        assert_non_null(f);
        fclose(f);
        agent_motd_init(&m, bad);
        assert_int_equal(agent_motd_update(&m, true, "x", &e), -ENOTDIR);
        assert_non_null(strstr(e.message, "writing "));
        assert_non_null(strstr(e.message, "not-a-dir/85-upkeep-deadend.motd")); /* the file it was writing */
        assert_int_equal(m.state, 1);                                           /* tried again next time */
}

static int setup(void **state)
{
        if (!mkdtemp(root))
                return -1;
        snprintf(dir, sizeof dir, "%s/motd.d", root);
        snprintf(file, sizeof file, "%s/%s", dir, AGENT_MOTD_FILE);
        return 0;
}

static int teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_and_remove),
                cmocka_unit_test(test_stale_removed_once),
                cmocka_unit_test(test_write_fails),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* test-lock-admin-token.c — the admin token upkeep-lock generates when none is configured
 * (lock-admin-token.c): 64 hex digits from getrandom, written once with mode 0600 and read back as it is
 * at later starts, a missing file left alone unless asked, and a file that is not a token refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock-admin-token.h"

typedef struct Dir {
        char dir[64];
        char path[128];
} Dir;

static int setup(void **state)
{
        Dir *d = calloc(1, sizeof(Dir));

        assert_non_null(d);
        snprintf(d->dir, sizeof(d->dir), "/tmp/upkeep-lock-token-XXXXXX");
        assert_non_null(mkdtemp(d->dir));
        snprintf(d->path, sizeof(d->path), "%s/admin.token", d->dir);
        *state = d;
        return 0;
}

static int teardown(void **state)
{
        Dir *d = *state;

        (void)unlink(d->path);
        assert_int_equal(rmdir(d->dir), 0);
        free(d);
        return 0;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void test_generate_once(void **state)
{
        Dir *d = *state;
        char *t = (char *)1, *again = NULL, *other = NULL;
        Error e = { { 0 } };
        struct stat st;

        /* not asked to create: nothing written, no token */
        assert_int_equal(admin_token_load(d->path, false, &t, &e), 0);
        assert_null(t);
        assert_int_equal(access(d->path, F_OK), -1);

        assert_int_equal(admin_token_load(d->path, true, &t, &e), 1);
        assert_int_equal(strlen(t), 2 * ADMIN_TOKEN_BYTES);
        assert_int_equal(strspn(t, "0123456789abcdef"), 2 * ADMIN_TOKEN_BYTES);
        assert_int_equal(stat(d->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, geteuid());
        assert_int_equal(st.st_size, 2 * ADMIN_TOKEN_BYTES + 1); /* and a newline */

        /* the next start reads the same token, and writes nothing */
        assert_int_equal(admin_token_load(d->path, true, &again, &e), 0);
        assert_string_equal(again, t);
        free(again);
        assert_int_equal(admin_token_load(d->path, false, &again, &e), 0);
        assert_string_equal(again, t);
        free(again);

        /* random: another file gets another token */
        assert_int_equal(unlink(d->path), 0);
        assert_int_equal(admin_token_load(d->path, true, &other, &e), 1);
        assert_string_not_equal(other, t);
        free(other);
        free(t);
}

static void test_existing_files(void **state)
{
        Dir *d = *state;
        char *t = NULL;
        Error e = { { 0 } };

        /* an operator's own token in that file is used as it is */
        write_file(d->path, "my-own-token\n");
        assert_int_equal(admin_token_load(d->path, true, &t, &e), 0);
        assert_string_equal(t, "my-own-token");
        free(t);

        write_file(d->path, "\n");
        assert_int_equal(admin_token_load(d->path, true, &t, &e), -EINVAL);
        assert_non_null(strstr(e.message, "admin.token: the token must be one line of text"));
        write_file(d->path, "two\nlines\n");
        assert_int_equal(admin_token_load(d->path, true, &t, &e), -EINVAL);

        /* a directory that does not exist: an error naming the file */
        char missing[200];
        snprintf(missing, sizeof(missing), "%s/nope/admin.token", d->dir);
        assert_int_equal(admin_token_load(missing, true, &t, &e), -ENOENT);
        assert_non_null(strstr(e.message, "nope/admin.token"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_generate_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_existing_files, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

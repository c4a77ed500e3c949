/* test-fileio.c — unit tests for src/io/fileio.c: whole-file reads with a size cap, from a path and
 * from a descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

static void test_read_full_file(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        char *d;
        size_t n;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello", 5), 5);
        close(fd);
        assert_int_equal(read_full_file(path, 5, &d, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(d, "hello");
        free(d);
        d = NULL;
        assert_int_equal(read_full_file(path, 4, &d, &n), -EFBIG);
        assert_null(d);
        unlink(path);
        assert_int_equal(read_full_file(path, 4, &d, &n), -ENOENT);
}

static void test_read_full_fd(void **state)
{
        static char big[100000];
        int p[2];
        char *d = NULL;
        size_t n = 0;

        /* A pipe, read to EOF; ret_len may be NULL. */
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], "abc", 3), 3);
        close(p[1]);
        assert_int_equal(read_full_fd(p[0], 3, &d, NULL), 0);
        assert_string_equal(d, "abc");
        free(d);
        close(p[0]);

        /* An empty input is an empty string, not NULL. */
        assert_int_equal(pipe(p), 0);
        close(p[1]);
        d = NULL;
        assert_int_equal(read_full_fd(p[0], 10, &d, &n), 0);
        assert_non_null(d);
        assert_int_equal(n, 0);
        assert_string_equal(d, "");
        free(d);
        close(p[0]);

        /* More than one read()'s worth, one byte over the cap: -EFBIG, nothing returned. */
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        memset(big, 'y', sizeof(big));
        assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        d = NULL;
        assert_int_equal(read_full_fd(fd, sizeof(big) - 1, &d, &n), -EFBIG);
        assert_null(d);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(read_full_fd(fd, sizeof(big), &d, &n), 0);
        assert_int_equal(n, sizeof(big));
        assert_memory_equal(d, big, sizeof(big));
        free(d);
        close(fd);

        /* A bad descriptor. */
        assert_int_equal(read_full_fd(-1, 10, &d, &n), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_full_file),
                cmocka_unit_test(test_read_full_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

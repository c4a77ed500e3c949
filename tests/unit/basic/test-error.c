/* test-error.c — unit tests for src/basic/error.c: formatting, prefixing, "%m" naming the error passed
 * in, errno kept, the cap on the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "error.h"

static void test_error(void **state)
{
        Error e;
        assert_int_equal(error_setf(&e, -EINVAL, "field %s", "x"), -EINVAL);
        assert_int_equal(error_prefixf(&e, -EINVAL, "file %s", "f.json"), -EINVAL);
        assert_string_equal(e.message, "file f.json: field x");
        assert_int_equal(error_setf(NULL, -ENOENT, "ignored"), -ENOENT);
}

static void test_error_percent_m(void **state)
{
        char want[256];
        Error e;

        /* "%m" is the error passed in, not whatever errno happens to be; errno is unchanged. */
        errno = EBUSY;
        assert_int_equal(error_setf(&e, -ENOENT, "open %s: %m", "/x"), -ENOENT);
        snprintf(want, sizeof(want), "open /x: %s", strerror(ENOENT));
        assert_string_equal(e.message, want);
        assert_int_equal(errno, EBUSY);

        errno = 0;
        assert_int_equal(error_setf(&e, -EACCES, "%m"), -EACCES);
        assert_string_equal(e.message, strerror(EACCES));
        assert_int_equal(errno, 0);

        /* Without an Error, errno is still left alone. */
        errno = EPERM;
        assert_int_equal(error_setf(NULL, -ENOENT, "%m"), -ENOENT);
        assert_int_equal(errno, EPERM);
}

static void test_error_cap(void **state)
{
        char long_text[2 * ERROR_MESSAGE_MAX];
        Error e;

        memset(long_text, 'a', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = 0;
        assert_int_equal(error_setf(&e, -EINVAL, "%s", long_text), -EINVAL);
        assert_int_equal(strlen(e.message), ERROR_MESSAGE_MAX - 1);
        /* A prefix on a full message keeps it terminated and starts with the prefix. */
        assert_int_equal(error_prefixf(&e, -EINVAL, "ctx"), -EINVAL);
        assert_int_equal(strlen(e.message), ERROR_MESSAGE_MAX - 1);
        assert_memory_equal(e.message, "ctx: aaa", 8);
        /* Without an Error, prefixing does nothing and returns r. */
        assert_int_equal(error_prefixf(NULL, -EIO, "ctx"), -EIO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_error),
                cmocka_unit_test(test_error_percent_m),
                cmocka_unit_test(test_error_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-strv.c — unit tests for src/basic/strv.c: building, measuring and freeing string lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "strv.h"

static void test_strv_push(void **state)
{
        _cleanup_strv_free_ char **l = NULL;
        char word[] = "beta";
        size_t n = 0;

        assert_int_equal(strv_length(NULL), 0);
        assert_int_equal(strv_push(&l, &n, "alpha"), 0);
        assert_int_equal(n, 1);
        assert_int_equal(strv_push(&l, &n, word), 0);
        /* strv_push copies: changing the caller's string leaves the list alone. */
        word[0] = 'x';
        assert_int_equal(strv_push_owned(&l, &n, strdup("gamma")), 0);
        assert_int_equal(n, 3);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[0], "alpha");
        assert_string_equal(l[1], "beta");
        assert_string_equal(l[2], "gamma");
        assert_null(l[3]);
}

static void test_strv_free_empty(void **state)
{
        char **l = calloc(1, sizeof(char *));

        assert_non_null(l);
        assert_int_equal(strv_length(l), 0);
        strv_free(l);
        strv_free(NULL);
}

static void test_strv_equal(void **state)
{
        char *a[] = { "x86_64", "aarch64" }, *b[] = { "x86_64", "aarch64" }, *c[] = { "aarch64", "x86_64" };

        assert_true(strv_equal(a, 2, b, 2));
        assert_true(strv_equal(NULL, 0, NULL, 0));
        assert_false(strv_equal(a, 2, c, 2)); /* order counts */
        assert_false(strv_equal(a, 2, b, 1));
        assert_false(strv_equal(a, 1, NULL, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strv_push),
                cmocka_unit_test(test_strv_free_empty),
                cmocka_unit_test(test_strv_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

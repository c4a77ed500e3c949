/* test-buf.c — unit tests for src/basic/buf.c: the cap, JSON string literals, stealing the data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_buf_cap(void **state)
{
        Buf b = BUF_INIT(8);
        assert_int_equal(buf_puts(&b, "12345"), 0);
        assert_int_equal(buf_puts(&b, "678"), 0);
        assert_int_equal(buf_putc(&b, 'x'), -ENOBUFS);
        assert_int_equal(b.len, 8);
        assert_string_equal(b.data, "12345678");
        assert_int_equal(buf_printf(&b, "%d", 1), -ENOBUFS);
        assert_string_equal(b.data, "12345678");
        buf_free(&b);
}

static void test_buf_json_string(void **state)
{
        Buf b = BUF_INIT(1024);
        assert_int_equal(buf_put_json_string(&b, "a\"b\\c\n\x01", 7), 0);
        assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
        buf_free(&b);

        /* A failed append leaves nothing behind. */
        b = BUF_INIT(4);
        assert_int_equal(buf_put_json_string(&b, "abcdef", 6), -ENOBUFS);
        assert_int_equal(b.len, 0);
        buf_free(&b);
}

static void test_buf_markup(void **state)
{
        Buf b = BUF_INIT(1024);
        assert_int_equal(buf_put_markup(&b, "<a href=\"x\">O'Brien & co</a>\x01\x7f", 30), 0);
        assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;??");
        buf_free(&b);
        /* A failed append leaves nothing behind. */
        b = BUF_INIT(8);
        assert_int_equal(buf_puts(&b, "ab"), 0);
        assert_int_equal(buf_put_markup(&b, "<<<", 3), -ENOBUFS);
        assert_string_equal(b.data, "ab");
        buf_free(&b);
}

static void test_buf_steal(void **state)
{
        Buf b = BUF_INIT(16);
        size_t n = 99;
        char *s = buf_steal(&b, &n);
        assert_non_null(s);
        assert_string_equal(s, "");
        assert_int_equal(n, 0);
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buf_cap),
                cmocka_unit_test(test_buf_json_string),
                cmocka_unit_test(test_buf_markup),
                cmocka_unit_test(test_buf_steal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

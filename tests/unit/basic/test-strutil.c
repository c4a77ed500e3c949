/* test-strutil.c — unit tests for src/basic/strutil.c: strict number parsing, the shortest double
 * format, percent-decoding and the small string predicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

static void test_safe_parsers(void **state)
{
        uint64_t u;
        int64_t i;
        uint16_t s;
        double d;

        assert_int_equal(safe_atou64("42", &u), 0);
        assert_true(u == 42);
        assert_int_equal(safe_atou64("-1", &u), -EINVAL);
        assert_int_equal(safe_atou64(" 1", &u), -EINVAL);
        assert_int_equal(safe_atou64("1x", &u), -EINVAL);
        assert_int_equal(safe_atou64("", &u), -EINVAL);
        assert_int_equal(safe_atou64("99999999999999999999", &u), -ERANGE);
        assert_int_equal(safe_atoi64("-5", &i), 0);
        assert_true(i == -5);
        assert_int_equal(safe_atoi64("-", &i), -EINVAL);
        assert_int_equal(safe_atou16("65536", &s), -ERANGE);
        assert_int_equal(safe_atou16("8080", &s), 0);
        assert_int_equal(s, 8080);
        assert_int_equal(safe_atod("0.5", &d), 0);
        assert_true(d == 0.5);
        assert_int_equal(safe_atod("1e-3", &d), 0);
        assert_int_equal(safe_atod("nan", &d), -EINVAL);
        assert_int_equal(safe_atod("inf", &d), -EINVAL);
        assert_int_equal(safe_atod("1e999", &d), -ERANGE);
        assert_int_equal(safe_atod("0x10", &d), -EINVAL);
        assert_int_equal(safe_atod("", &d), -EINVAL);
        assert_int_equal(safe_atod("1.0 ", &d), -EINVAL);
}

static void check_fmt(double v, const char *expected)
{
        char out[512];
        assert_int_equal(format_double_shortest(v, out, sizeof(out)), 0);
        assert_string_equal(out, expected);
}

static void test_format_double(void **state)
{
        check_fmt(0.0, "0");
        check_fmt(1.0, "1");
        check_fmt(0.5, "0.5");
        check_fmt(0.1, "0.1");
        check_fmt(0.25, "0.25");
        check_fmt(1e-7, "0.0000001");
        check_fmt(123.0, "123");
        check_fmt(1e21, "1000000000000000000000");
        check_fmt(-2.5, "-2.5");
        check_fmt(0.30000000000000004, "0.30000000000000004");
        char tiny[4];
        assert_int_equal(format_double_shortest(0.123456, tiny, sizeof(tiny)), -ENOBUFS);
        assert_int_equal(format_double_shortest(NAN, tiny, sizeof(tiny)), -EINVAL);
}

static void test_url_unescape(void **state)
{
        char *s;
        assert_int_equal(url_unescape("a%20b+c", 7, &s), 0);
        assert_string_equal(s, "a b c");
        free(s);
        assert_int_equal(url_unescape("%4", 2, &s), -EINVAL);
        assert_int_equal(url_unescape("%", 1, &s), -EINVAL);
        assert_int_equal(url_unescape("%zz", 3, &s), -EINVAL);
        assert_int_equal(url_unescape("%00", 3, &s), -EINVAL);
        assert_true(url_escapes_valid("a%20b+c", 7));
        assert_false(url_escapes_valid("%4", 2));
        assert_false(url_escapes_valid("a%", 2));
        assert_false(url_escapes_valid("%zz", 3));
        assert_false(url_escapes_valid("%00", 3));
        assert_true(url_escapes_valid("%41", 3));
        assert_true(url_escapes_valid("", 0));
        assert_int_equal(url_unescape("", 0, &s), 0);
        assert_string_equal(s, "");
        free(s);
}

static void test_prefix_suffix_hex(void **state)
{
        uint64_t u = 7;

        assert_true(startswith("http://x", "http://"));
        assert_true(startswith("abc", ""));
        assert_false(startswith("htt", "http"));
        assert_false(startswith("xhttp", "http"));
        assert_true(endswith("file.json", ".json"));
        assert_true(endswith("abc", ""));
        assert_false(endswith("json", ".json"));
        assert_false(endswith("a.jsonx", ".json"));
        assert_int_equal(unhexchar('0'), 0);
        assert_int_equal(unhexchar('9'), 9);
        assert_int_equal(unhexchar('a'), 10);
        assert_int_equal(unhexchar('F'), 15);
        assert_int_equal(unhexchar('g'), -1);
        assert_int_equal(unhexchar('/'), -1);
        /* A failed parse leaves the result alone. */
        assert_int_equal(safe_atou64("12a", &u), -EINVAL);
        assert_true(u == 7);
}

static void test_string_check_plain(void **state)
{
        assert_int_equal(string_check_plain("abc", 3, true), 0);
        assert_int_equal(string_check_plain("abcd", 3, true), -E2BIG);
        assert_int_equal(string_check_plain(NULL, 3, true), -EINVAL);
        assert_int_equal(string_check_plain(NULL, 3, false), 0);
        assert_int_equal(string_check_plain("", 3, true), -EINVAL);
        assert_int_equal(string_check_plain("", 3, false), 0);
        assert_int_equal(string_check_plain("a\nb", 8, false), -EINVAL);
        assert_int_equal(string_check_plain("a\x7f", 8, false), -EINVAL);
        assert_int_equal(string_check_plain("caf\xc3\xa9", 8, true), 0); /* UTF-8 is not a control byte */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_safe_parsers),       cmocka_unit_test(test_format_double),
                cmocka_unit_test(test_url_unescape),       cmocka_unit_test(test_prefix_suffix_hex),
                cmocka_unit_test(test_string_check_plain),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

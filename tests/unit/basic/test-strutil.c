/* test-strutil.c — unit tests for src/basic/strutil.c: strict number parsing, the shortest double
 * format, percent-decoding, the small string predicates and the text cleaner (every class it replaces,
 * the boundaries of each range, truncation and small caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
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

static void test_shortest_digits(void **state)
{
        char d[DOUBLE_DIGITS_MAX + 1];
        int exp10;
        bool neg;

        assert_int_equal(double_shortest_digits(0.25, d, &exp10, &neg), 2);
        assert_string_equal(d, "25");
        assert_int_equal(exp10, -1);
        assert_false(neg);
        assert_int_equal(double_shortest_digits(-1200.0, d, &exp10, &neg), 2);
        assert_string_equal(d, "12");
        assert_int_equal(exp10, 3);
        assert_true(neg);
        assert_int_equal(double_shortest_digits(0.30000000000000004, d, &exp10, &neg), 17);
        assert_string_equal(d, "30000000000000004");
        assert_int_equal(double_shortest_digits(0.0, d, &exp10, &neg), 1);
        assert_string_equal(d, "0");
        assert_int_equal(double_shortest_digits(INFINITY, d, &exp10, &neg), -EINVAL);
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

/* Cleans the string in (strlen bytes) with a large cap and checks the output and text_is_clean(). */
static void check_clean(const char *in, TextCleanFlags flags, const char *expected)
{
        char out[256];
        size_t n = text_clean(out, sizeof out, in, strlen(in), flags);

        if (strcmp(out, expected) != 0)
                fail_msg("text_clean(\"%s\") gave \"%s\", expected \"%s\"", in, out, expected);
        assert_int_equal(n, strlen(expected));
        assert_true(text_is_clean(out, n, flags));
        assert_int_equal(text_is_clean(in, strlen(in), flags), strcmp(in, expected) == 0);
}

static void test_text_clean_c0_c1(void **state)
{
        check_clean("plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,
                    "plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        check_clean("", 0, "");
        /* line breaks and tabs are spaces, the rest of C0 and DEL are '?' */
        check_clean("a\tb\nc\rd\ve\ff", 0, "a b c d e f");
        check_clean("\x01\x08\x0e\x1b[2J\x1f\x7f~ !", 0, "????[2J??~ !");
        check_clean("a\tb\nc\rd", TEXT_CLEAN_MULTILINE, "a\tb\nc d");
        check_clean("\x1b]0;title\x07", TEXT_CLEAN_MULTILINE, "?]0;title?");
        /* C1: U+0080 to U+009F; NEL (U+0085) is a line break; U+00A0 (no-break space) is kept */
        check_clean("\xc2\x80|\xc2\x85|\xc2\x9b|\xc2\x9f|\xc2\xa0", 0, "?| |?|?|\xc2\xa0");
        check_clean("\xc2\x85", TEXT_CLEAN_MULTILINE, " ");
        /* U+2028 line separator, U+2029 paragraph separator */
        check_clean("a\xe2\x80\xa8z\xe2\x80\xa9", 0, "a z ");
        /* an embedded NUL is a control too */
        char out[8];
        assert_int_equal(text_clean(out, sizeof out, "a\0b", 3, 0), 3);
        assert_string_equal(out, "a?b");
        assert_false(text_is_clean("a\0b", 3, 0));
}

static void test_text_clean_bidi_nonchar(void **state)
{
        /* U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, each between its kept neighbours */
        check_clean("\xd8\x9b\xd8\x9c\xd8\x9d", 0, "\xd8\x9b?\xd8\x9d");
        check_clean("\xe2\x80\x8d\xe2\x80\x8e\xe2\x80\x8f\xe2\x80\x90", 0, "\xe2\x80\x8d??\xe2\x80\x90");
        check_clean("\xe2\x80\xa9\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae\xe2\x80\xaf",
                    0, " ?????\xe2\x80\xaf");
        check_clean("\xe2\x81\xa5\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9\xe2\x81\xaa", 0,
                    "\xe2\x81\xa5????\xe2\x81\xaa");
        check_clean("evil\xe2\x80\xaegnp.exe", 0, "evil?gnp.exe");
        /* noncharacters: U+FDCF kept, U+FDD0..U+FDEF, U+FFFE, U+FFFF, U+1FFFE, U+10FFFF; U+FFFD kept */
        check_clean("\xef\xb7\x8f\xef\xb7\x90\xef\xb7\xaf\xef\xb7\xb0", 0, "\xef\xb7\x8f??\xef\xb7\xb0");
        check_clean("\xef\xbf\xbd\xef\xbf\xbe\xef\xbf\xbf\xf0\x9f\xbf\xbe\xf4\x8f\xbf\xbf", 0,
                    "\xef\xbf\xbd????");
        check_clean("\xf4\x8f\xbf\xbd", 0, "\xf4\x8f\xbf\xbd"); /* U+10FFFD, the last kept code point */
}

static void test_text_clean_invalid(void **state)
{
        check_clean("x\xffy\xfe", 0, "x?y?");
        check_clean("\x80\xbf", 0, "??");                       /* stray continuation bytes */
        check_clean("\xc0\xaf\xc1\xbf", 0, "????");             /* overlong 2-byte forms */
        check_clean("\xe0\x80\xaf", 0, "???");                  /* overlong, 3 bytes */
        check_clean("\xe0\xa0\x80", 0, "\xe0\xa0\x80");         /* U+0800, the first 3-byte one */
        check_clean("\xf0\x8f\xbf\xbf", 0, "????");             /* overlong, 4 bytes */
        check_clean("\xf0\x90\x80\x80", 0, "\xf0\x90\x80\x80"); /* U+10000 */
        check_clean("\xed\x9f\xbf|\xed\xa0\x80|\xed\xbf\xbf|\xee\x80\x80", 0,
                    "\xed\x9f\xbf|???|???|\xee\x80\x80");               /* surrogates U+D800..U+DFFF */
        check_clean("\xf4\x90\x80\x80\xf5\x80\x80\x80", 0, "????????"); /* past U+10FFFF */
        check_clean("end\xe2\x82", 0, "end??");                         /* truncated */
        check_clean("\xe2\x82x", 0, "??x");
        /* a cut sequence followed by a whole one: only the broken bytes go */
        check_clean("\xc3\xc3\xa9", 0, "?\xc3\xa9");
}

static void test_text_clean_caps(void **state)
{
        char out[8], big[16];

        /* cap 0 writes nothing at all, cap 1 just the NUL */
        out[0] = 'X';
        assert_int_equal(text_clean(out, 0, "abc", 3, 0), 0);
        assert_int_equal(out[0], 'X');
        assert_int_equal(text_clean(NULL, 0, "abc", 3, 0), 0);
        assert_int_equal(text_clean(out, 1, "abc", 3, 0), 0);
        assert_string_equal(out, "");
        assert_int_equal(text_clean(out, 4, "abcdef", 6, 0), 3);
        assert_string_equal(out, "abc");
        assert_int_equal(text_clean(out, 4, "abc", 3, 0), 3);
        assert_string_equal(out, "abc");
        /* a sequence that does not fit whole is left out, never split */
        assert_int_equal(text_clean(out, 4, "ab\xc3\xa9", 4, 0), 2);
        assert_string_equal(out, "ab");
        assert_int_equal(text_clean(out, 5, "a\xf0\x9f\x98\x80", 5, 0), 1);
        assert_string_equal(out, "a");
        assert_int_equal(text_clean(out, 6, "a\xf0\x9f\x98\x80", 5, 0), 5);
        /* a replacement takes one byte, so it fits where the sequence it replaces would not */
        assert_int_equal(text_clean(out, 4, "ab\xe2\x80\xae", 5, 0), 3);
        assert_string_equal(out, "ab?");
        /* len bounds the input: a sequence cut by len is invalid bytes */
        assert_int_equal(text_clean(big, sizeof big, "ab\xc3\xa9", 3, 0), 3);
        assert_string_equal(big, "ab?");
        /* in place */
        strcpy(big, "a\x1b\xc2\x85\xc3\xa9\xff");
        assert_int_equal(text_clean(big, sizeof big, big, strlen(big), 0), 6);
        assert_string_equal(big, "a? \xc3\xa9?");
        assert_true(text_is_clean("", 0, 0));
        assert_true(text_is_clean(NULL, 0, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_safe_parsers),       cmocka_unit_test(test_format_double),
                cmocka_unit_test(test_shortest_digits),    cmocka_unit_test(test_url_unescape),
                cmocka_unit_test(test_prefix_suffix_hex),  cmocka_unit_test(test_string_check_plain),
                cmocka_unit_test(test_text_clean_c0_c1),   cmocka_unit_test(test_text_clean_bidi_nonchar),
                cmocka_unit_test(test_text_clean_invalid), cmocka_unit_test(test_text_clean_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

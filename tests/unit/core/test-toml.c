/* test-toml.c — unit tests for the TOML parser (src/core/toml.c): the accessor API, document order,
 * positions, datetimes, the depth cap, error positions and messages, NULs in strings and keys, and
 * the speed of large tables. The full conformance suite runs in tests/integration/test_toml_suite.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "macros.h"
#include "toml.h"

static TomlValue *parse_ok(const char *text)
{
        TomlValue *root = NULL;
        TomlError e = {};
        int r = toml_parse(text, strlen(text), &root, &e);

        if (r < 0)
                fail_msg("parse failed (%d) at %u:%u: %s\n--- document ---\n%s", r, e.line, e.column,
                         e.message, text);
        assert_non_null(root);
        assert_int_equal(toml_type(root), TOML_TABLE);
        return root;
}

/* Expects text to fail with r, at line:column, with a message containing needle. */
static void parse_fail(const char *text, size_t len, int r, unsigned line, unsigned column,
                       const char *needle)
{
        TomlValue *root = (TomlValue *)0x1;
        TomlError e = {};
        int got = toml_parse(text, len, &root, &e);

        if (got != r || e.line != line || e.column != column || !strstr(e.message, needle))
                fail_msg("expected %d at %u:%u containing \"%s\", got %d at %u:%u: %s", r, line, column,
                         needle, got, e.line, e.column, e.message);
        /* outputs untouched on failure */
        assert_ptr_equal(root, (TomlValue *)0x1);
}

static void test_basic_lookup(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("# a comment\n"
                                                  "title = \"Upkeep\"  # trailing comment\n"
                                                  "count = 42\n"
                                                  "ratio = 0.5\n"
                                                  "enabled = true\n"
                                                  "off = false\n"
                                                  "\n"
                                                  "[server]\n"
                                                  "host = 'localhost'\n"
                                                  "ports = [ 8080, 8081 ]\n");
        const TomlValue *v, *server, *ports;
        size_t len;

        assert_int_equal(toml_table_size(root), 6);
        v = toml_table_get(root, "title");
        assert_non_null(v);
        assert_int_equal(toml_type(v), TOML_STRING);
        assert_string_equal(toml_string(v, &len), "Upkeep");
        assert_int_equal(len, 6);
        assert_string_equal(toml_string(v, NULL), "Upkeep");

        v = toml_table_get(root, "count");
        assert_int_equal(toml_type(v), TOML_INTEGER);
        assert_int_equal(toml_integer(v), 42);
        v = toml_table_get(root, "ratio");
        assert_int_equal(toml_type(v), TOML_FLOAT);
        assert_true(toml_float(v) == 0.5);
        assert_true(toml_boolean(toml_table_get(root, "enabled")));
        assert_false(toml_boolean(toml_table_get(root, "off")));
        assert_int_equal(toml_type(toml_table_get(root, "off")), TOML_BOOLEAN);

        server = toml_table_get(root, "server");
        assert_int_equal(toml_type(server), TOML_TABLE);
        assert_string_equal(toml_string(toml_table_get(server, "host"), NULL), "localhost");
        ports = toml_table_get(server, "ports");
        assert_int_equal(toml_type(ports), TOML_ARRAY);
        assert_int_equal(toml_array_size(ports), 2);
        assert_int_equal(toml_integer(toml_array_get(ports, 0)), 8080);
        assert_int_equal(toml_integer(toml_array_get(ports, 1)), 8081);
        assert_null(toml_array_get(ports, 2));

        /* absent keys and wrong types */
        assert_null(toml_table_get(root, "missing"));
        assert_null(toml_table_get(root, "serve"));
        assert_null(toml_table_get(ports, "x"));
        assert_null(toml_table_get(NULL, "x"));
        assert_int_equal(toml_table_size(ports), 0);
        assert_int_equal(toml_array_size(server), 0);
        assert_null(toml_table_key_at(root, 99));
        assert_null(toml_table_value_at(root, 99));
        assert_null(toml_string(ports, NULL));
        assert_null(toml_datetime(ports));
        assert_int_equal(toml_integer(server), 0);
}

static void test_type_names(void **state)
{
        assert_string_equal(toml_type_name(TOML_TABLE), "table");
        assert_string_equal(toml_type_name(TOML_ARRAY), "array");
        assert_string_equal(toml_type_name(TOML_STRING), "string");
        assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
        assert_string_equal(toml_type_name(TOML_FLOAT), "float");
        assert_string_equal(toml_type_name(TOML_BOOLEAN), "boolean");
        assert_string_equal(toml_type_name(TOML_DATETIME), "datetime");
        assert_string_equal(toml_type_name(TOML_DATETIME_LOCAL), "datetime-local");
        assert_string_equal(toml_type_name(TOML_DATE_LOCAL), "date-local");
        assert_string_equal(toml_type_name(TOML_TIME_LOCAL), "time-local");
}

static void test_document_order(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("zeta = 1\n"
                                                  "alpha = 2\n"
                                                  "\"quoted key\" = 3\n"
                                                  "mid.inner = 4\n"
                                                  "beta = 5\n"
                                                  "[later]\n"
                                                  "[[items]]\n"
                                                  "[[items]]\n");
        const char *want[] = { "zeta", "alpha", "quoted key", "mid", "beta", "later", "items" };

        assert_int_equal(toml_table_size(root), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_string_equal(toml_table_key_at(root, i), want[i]);
                assert_ptr_equal(toml_table_value_at(root, i), toml_table_get(root, want[i]));
        }
        assert_int_equal(toml_array_size(toml_table_get(root, "items")), 2);
        assert_int_equal(toml_integer(toml_table_get(toml_table_get(root, "mid"), "inner")), 4);
}

static void test_positions(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("a = 1\n"
                                                  "  b = \"x\"\n"
                                                  "\"é\" = 'y'\n"
                                                  "[t.u]\n"
                                                  "v = [1,\n"
                                                  "     2]\n"
                                                  "w = { x = 3 }\n"
                                                  "[t]\n"
                                                  "d.e = 4\n"
                                                  "# é\n"
                                                  "\tz = 1979-05-27\n");
        const TomlValue *t, *u, *v, *w, *d;

        assert_int_equal(toml_line(root), 1);
        assert_int_equal(toml_column(root), 1);
        assert_int_equal(toml_line(toml_table_get(root, "a")), 1);
        assert_int_equal(toml_column(toml_table_get(root, "a")), 5);
        assert_int_equal(toml_line(toml_table_get(root, "b")), 2);
        assert_int_equal(toml_column(toml_table_get(root, "b")), 7);
        /* columns count characters, not bytes */
        assert_int_equal(toml_line(toml_table_get(root, "é")), 3);
        assert_int_equal(toml_column(toml_table_get(root, "é")), 7);

        t = toml_table_get(root, "t");
        u = toml_table_get(t, "u");
        /* t was created by [t.u] on line 4, then defined by [t] on line 8 */
        assert_int_equal(toml_line(t), 8);
        assert_int_equal(toml_column(t), 1);
        assert_int_equal(toml_line(u), 4);
        v = toml_table_get(u, "v");
        assert_int_equal(toml_line(v), 5);
        assert_int_equal(toml_column(v), 5);
        assert_int_equal(toml_line(toml_array_get(v, 1)), 6);
        assert_int_equal(toml_column(toml_array_get(v, 1)), 6);
        w = toml_table_get(u, "w");
        assert_int_equal(toml_line(w), 7);
        assert_int_equal(toml_column(w), 5);
        assert_int_equal(toml_column(toml_table_get(w, "x")), 11);
        d = toml_table_get(t, "d");
        assert_int_equal(toml_line(d), 9);
        assert_int_equal(toml_column(d), 1);
        assert_int_equal(toml_column(toml_table_get(d, "e")), 7);
        assert_int_equal(toml_line(toml_table_get(t, "z")), 11);
        assert_int_equal(toml_column(toml_table_get(t, "z")), 6);
}

static void test_datetimes(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("odt1 = 1979-05-27T07:32:00Z\n"
                                                  "odt2 = 1979-05-27T00:32:00.999999-07:30\n"
                                                  "odt3 = 1979-05-27 07:32:00.1234567891+05:45\n"
                                                  "odt4 = 2000-02-29t23:59:60z\n"
                                                  "ldt = 1979-05-27T07:32:00.5\n"
                                                  "ld = 1979-05-27\n"
                                                  "lt = 00:32:00.000001\n");
        const TomlValue *v;
        const TomlDatetime *dt;

        v = toml_table_get(root, "odt1");
        assert_int_equal(toml_type(v), TOML_DATETIME);
        dt = toml_datetime(v);
        assert_non_null(dt);
        assert_int_equal(dt->year, 1979);
        assert_int_equal(dt->month, 5);
        assert_int_equal(dt->day, 27);
        assert_int_equal(dt->hour, 7);
        assert_int_equal(dt->minute, 32);
        assert_int_equal(dt->second, 0);
        assert_int_equal(dt->nanosecond, 0);
        assert_int_equal(dt->offset_minutes, 0);

        dt = toml_datetime(toml_table_get(root, "odt2"));
        assert_int_equal(dt->hour, 0);
        assert_int_equal(dt->nanosecond, 999999000);
        assert_int_equal(dt->offset_minutes, -(7 * 60 + 30));

        v = toml_table_get(root, "odt3");
        assert_int_equal(toml_type(v), TOML_DATETIME);
        dt = toml_datetime(v);
        assert_int_equal(dt->nanosecond, 123456789); /* truncated */
        assert_int_equal(dt->offset_minutes, 5 * 60 + 45);

        dt = toml_datetime(toml_table_get(root, "odt4"));
        assert_int_equal(dt->day, 29);
        assert_int_equal(dt->second, 60);

        v = toml_table_get(root, "ldt");
        assert_int_equal(toml_type(v), TOML_DATETIME_LOCAL);
        dt = toml_datetime(v);
        assert_int_equal(dt->year, 1979);
        assert_int_equal(dt->nanosecond, 500000000);
        assert_int_equal(dt->offset_minutes, 0);

        v = toml_table_get(root, "ld");
        assert_int_equal(toml_type(v), TOML_DATE_LOCAL);
        dt = toml_datetime(v);
        assert_int_equal(dt->year, 1979);
        assert_int_equal(dt->month, 5);
        assert_int_equal(dt->day, 27);
        assert_int_equal(dt->hour, 0);
        assert_int_equal(dt->minute, 0);
        assert_int_equal(dt->second, 0);

        v = toml_table_get(root, "lt");
        assert_int_equal(toml_type(v), TOML_TIME_LOCAL);
        dt = toml_datetime(v);
        assert_int_equal(dt->year, 0);
        assert_int_equal(dt->month, 0);
        assert_int_equal(dt->day, 0);
        assert_int_equal(dt->minute, 32);
        assert_int_equal(dt->nanosecond, 1000);
}

static void test_datetime_ranges(void **state)
{
        static const char *bad[] = {
                "d = 1900-02-29\n",
                "d = 2023-02-29\n",
                "d = 2023-04-31\n",
                "d = 2023-13-01\n",
                "d = 2023-00-10\n",
                "d = 2023-01-00\n",
                "d = 2023-01-01T24:00:00\n",
                "d = 2023-01-01T23:60:00\n",
                "d = 2023-01-01T23:59:61\n",
                "d = 2023-01-01T23:59:59+24:00\n",
                "d = 2023-01-01T23:59:59+01:60\n",
                "d = 2023-01-01T23:59\n",
                "t = 12:30\n",
                "d = 2023-01-01T10:00:00.\n",
                "d = 2023-1-01\n",
                "d = 10000-01-01\n",
        };
        _cleanup_toml_ TomlValue *root = parse_ok("a = 2000-02-29\nb = 2024-02-29\nc = 2023-12-31\n");

        assert_int_equal(toml_table_size(root), 3);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                TomlValue *r = NULL;
                TomlError e = {};
                if (toml_parse(bad[i], strlen(bad[i]), &r, &e) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                assert_int_equal(e.line, 1);
        }
}

static void nest(Buf *b, const char *prefix, const char *open, const char *mid, const char *close, size_t n)
{
        buf_truncate(b, 0);
        assert_int_equal(buf_puts(b, prefix), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_puts(b, open), 0);
        assert_int_equal(buf_puts(b, mid), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_puts(b, close), 0);
        assert_int_equal(buf_puts(b, "\n"), 0);
}

static void test_depth_cap(void **state)
{
        Buf b = BUF_INIT(1 << 20);
        TomlValue *root = NULL;
        TomlError e = {};
        const TomlValue *v;
        size_t depth;

        /* a = [[[...]]]: the outermost array is at depth 1 */
        nest(&b, "a = ", "[", "", "]", TOML_MAX_DEPTH);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        for (v = toml_table_get(root, "a"), depth = 0; toml_array_size(v) > 0; v = toml_array_get(v, 0))
                depth++;
        assert_int_equal(depth + 1, TOML_MAX_DEPTH);
        toml_free(root);
        root = NULL;

        nest(&b, "a = ", "[", "", "]", TOML_MAX_DEPTH + 1);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        assert_null(root);
        assert_int_equal(e.line, 1);
        assert_int_equal(e.column, 5 + TOML_MAX_DEPTH);
        assert_non_null(strstr(e.message, "nesting"));

        nest(&b, "a = ", "{b = ", "1", "}", TOML_MAX_DEPTH);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        toml_free(root);
        root = NULL;
        nest(&b, "a = ", "{b = ", "1", "}", TOML_MAX_DEPTH + 1);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);

        /* far beyond the cap: no recursion into it */
        nest(&b, "a = ", "[", "", "]", 100000);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        nest(&b, "a = ", "{b=", "1", "}", 50000);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);

        /* dotted keys and headers count too */
        /* TOML_MAX_DEPTH tables and a scalar */
        nest(&b, "", "k.", "k = 1", "", TOML_MAX_DEPTH);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        toml_free(root);
        root = NULL;
        nest(&b, "", "k.", "k = 1", "", TOML_MAX_DEPTH + 1);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        nest(&b, "[", "k.", "k]", "", TOML_MAX_DEPTH - 1);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        toml_free(root);
        root = NULL;
        nest(&b, "[", "k.", "k]", "", TOML_MAX_DEPTH);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        nest(&b, "[", "k.", "k]\nv = [1]", "", TOML_MAX_DEPTH - 1);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        nest(&b, "", "k.", "k = 1", "", 100000);
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -E2BIG);
        assert_null(root);
        buf_free(&b);
}

static void test_error_positions(void **state)
{
        static const struct {
                const char *text;
                unsigned line, column;
                const char *needle;
        } cases[] = {
                { "name = 1\nname = 2\n", 2, 1, "duplicate key 'name'" },
                { "a = 1\nb 2\n", 2, 3, "expected '=' after key" },
                { "s = \"ab\\qc\"\n", 1, 8, "invalid escape '\\q' in string" },
                { "[a]\nx = 1\n[a]\n", 3, 1, "table [a] defined twice" },
                { "[a.b]\n[a.b]\n", 2, 1, "table [a.b] defined twice" },
                { "a = {x = 1}\na.y = 2\n", 2, 1, "inline table 'a'" },
                { "a = [1]\n[[a]]\n", 2, 1, "static array" },
                { "[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3, 1, "already defined by dotted keys" },
                { "[a.b]\n[a]\nb.c.d = 1\n", 3, 1, "own header" },
                { "[a.b.c]\n[a]\nb.d = 1\n[a.b]\n", 4, 1, "table [a.b] already defined by dotted keys" },
                { "a.b = 1\n[[c]]\nd.e = [1]\n[c.d]\n", 4, 1, "already defined by dotted keys" },
                { "x = 9223372036854775808\n", 1, 5, "out of range" },
                { "x = 0x8000000000000000\n", 1, 5, "out of range" },
                { "x = 1e400\n", 1, 5, "out of range" },
                { "x = 012\n", 1, 5, "leading zeros" },
                { "x = 1__2\n", 1, 6, "underscores" },
                { "x = \"\\uD800\"\n", 1, 6, "not a Unicode scalar value" },
                { "x = \"\\U00110000\"\n", 1, 6, "not a Unicode scalar value" },
                { "x = \"abc\n", 1, 9, "unterminated string" },
                { "x = { a = 1, }\n", 1, 14, "trailing comma" },
                { "x = { a = 1\n}\n", 1, 12, "newlines" },
                { "x = 1 # bell \a\n", 1, 14, "control character U+0007 in comment" },
                { "x = 'a\tb\x7f'\n", 1, 9, "control character U+007F" },
                { "x = 1\r\ny = 2\r", 2, 6, "carriage return" },
                { "\xc3\xa9 = 1\n", 1, 1, "expected a key" },
                { "k = \"\xc3\xa9\xff\"\n", 1, 7, "invalid UTF-8" },
                { "k = \"\xc0\xaf\"\n", 1, 6, "invalid UTF-8" },         /* overlong */
                { "k = \"\xed\xa0\x80\"\n", 1, 6, "invalid UTF-8" },     /* surrogate */
                { "k = \"\xf4\x90\x80\x80\"\n", 1, 6, "invalid UTF-8" }, /* > U+10FFFF */
                { "a = 1 b = 2\n", 1, 7, "expected end of line" },
                { "a.\"b\".c = 1\n[a.b]\n", 2, 1, "table [a.b] already defined by dotted keys" },
                { "a = 1\n[a.b]\n", 2, 2, "cannot use 'a' as a table: it is an integer" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fail(cases[i].text, strlen(cases[i].text), -EINVAL, cases[i].line, cases[i].column,
                           cases[i].needle);
        /* a NUL byte in the document */
        parse_fail("a = 1\nb = \"x\0y\"\n", sizeof("a = 1\nb = \"x\0y\"\n") - 1, -EINVAL, 2, 7,
                   "control character U+0000");
        parse_fail("a = 1\0", 6, -EINVAL, 1, 6, "U+0000");

        /* ret_error is optional */
        TomlValue *root = NULL;
        assert_int_equal(toml_parse("a = ", 4, &root, NULL), -EINVAL);
        assert_null(root);
}

static void test_long_keys_in_messages(void **state)
{
        Buf b = BUF_INIT(1 << 16);
        TomlValue *root = NULL;
        TomlError e = {};

        /* keys full of escapes, multibyte characters and quotes are shortened, never overflow the message */
        for (int round = 0; round < 3; round++) {
                const char *piece = round == 0 ? "\\u0001" : round == 1 ? "\xc3\xa9" : "\\\"";
                buf_truncate(&b, 0);
                for (int twice = 0; twice < 2; twice++) {
                        assert_int_equal(buf_puts(&b, "[\""), 0);
                        for (int i = 0; i < 200; i++)
                                assert_int_equal(buf_puts(&b, piece), 0);
                        assert_int_equal(buf_puts(&b, "\".\"x\".y]\n"), 0);
                }
                assert_int_equal(toml_parse(b.data, b.len, &root, &e), -EINVAL);
                assert_non_null(strstr(e.message, "defined twice"));
                assert_non_null(strstr(e.message, "..."));
                assert_true(strlen(e.message) < sizeof(e.message));
                assert_int_equal(e.line, 2);
        }
        buf_free(&b);
}

static void test_nul_in_strings_and_keys(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("s = \"a\\u0000b\"\n"
                                                  "\"k\\u0000x\" = 1\n"
                                                  "k = 2\n"
                                                  "'k\\u0000x' = 3\n");
        const TomlValue *v;
        const char *s, *key;
        size_t len;

        s = toml_string(toml_table_get(root, "s"), &len);
        assert_int_equal(len, 3);
        assert_memory_equal(s, "a\0b", 4);

        assert_int_equal(toml_table_size(root), 4);
        key = toml_table_key_at_n(root, 1, &len);
        assert_int_equal(len, 3);
        assert_memory_equal(key, "k\0x", 4);
        v = toml_table_get_n(root, "k\0x", 3);
        assert_int_equal(toml_integer(v), 1);
        assert_int_equal(toml_integer(toml_table_get(root, "k")), 2);
        assert_int_equal(toml_integer(toml_table_get(root, "k\\u0000x")), 3);
        assert_null(toml_table_get_n(root, "k\0y", 3));
}

static void test_strings(void **state)
{
        _cleanup_toml_ TomlValue *root =
                parse_ok("basic = \"tab\\there \\\"q\\\" \\\\ \\b\\f\\n\\r \\u00e9 \\U0001F600\"\n"
                         "ml = \"\"\"\nline1\nline2\\\n    \t\n   joined\"\"\"\n"
                         "mlq = \"\"\"two quotes at the end\"\"\"\"\"\n"
                         "crlf = \"\"\"\r\na\r\nb\"\"\"\n"
                         "lit = 'C:\\path\\no escapes'\n"
                         "mllit = '''\nfirst\n  'quoted' ''\n'''\n"
                         "empty = \"\"\n"
                         "empty2 = ''\n");
        size_t len;

        assert_string_equal(toml_string(toml_table_get(root, "basic"), NULL),
                            "tab\there \"q\" \\ \b\f\n\r \xc3\xa9 \xf0\x9f\x98\x80");
        assert_string_equal(toml_string(toml_table_get(root, "ml"), NULL), "line1\nline2joined");
        assert_string_equal(toml_string(toml_table_get(root, "mlq"), NULL), "two quotes at the end\"\"");
        assert_string_equal(toml_string(toml_table_get(root, "crlf"), NULL), "a\nb");
        assert_string_equal(toml_string(toml_table_get(root, "lit"), NULL), "C:\\path\\no escapes");
        assert_string_equal(toml_string(toml_table_get(root, "mllit"), NULL), "first\n  'quoted' ''\n");
        assert_string_equal(toml_string(toml_table_get(root, "empty"), &len), "");
        assert_int_equal(len, 0);
        assert_string_equal(toml_string(toml_table_get(root, "empty2"), NULL), "");
}

static void test_numbers(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("max = 9223372036854775807\n"
                                                  "min = -9223372036854775808\n"
                                                  "us = 1_000_000\n"
                                                  "hex = 0xDEAD_beef\n"
                                                  "oct = 0o755\n"
                                                  "bin = 0b1101\n"
                                                  "hexmax = 0x7fffffffffffffff\n"
                                                  "zero = -0\n"
                                                  "f1 = -3.25e+2\n"
                                                  "f2 = 1E-2\n"
                                                  "f3 = 6.626_070e-34\n"
                                                  "pinf = +inf\n"
                                                  "ninf = -inf\n"
                                                  "nan = nan\n"
                                                  "negzero = -0.0\n");

        assert_true(toml_integer(toml_table_get(root, "max")) == INT64_MAX);
        assert_true(toml_integer(toml_table_get(root, "min")) == INT64_MIN);
        assert_int_equal(toml_integer(toml_table_get(root, "us")), 1000000);
        assert_int_equal(toml_integer(toml_table_get(root, "hex")), 0xdeadbeef);
        assert_int_equal(toml_integer(toml_table_get(root, "oct")), 0755);
        assert_int_equal(toml_integer(toml_table_get(root, "bin")), 13);
        assert_true(toml_integer(toml_table_get(root, "hexmax")) == INT64_MAX);
        assert_int_equal(toml_integer(toml_table_get(root, "zero")), 0);
        assert_true(toml_float(toml_table_get(root, "f1")) == -325.0);
        assert_true(toml_float(toml_table_get(root, "f2")) == 0.01);
        assert_true(fabs(toml_float(toml_table_get(root, "f3")) - 6.62607e-34) < 1e-40);
        assert_true(isinf(toml_float(toml_table_get(root, "pinf"))) &&
                    toml_float(toml_table_get(root, "pinf")) > 0);
        assert_true(isinf(toml_float(toml_table_get(root, "ninf"))) &&
                    toml_float(toml_table_get(root, "ninf")) < 0);
        assert_true(isnan(toml_float(toml_table_get(root, "nan"))));
        assert_true(signbit(toml_float(toml_table_get(root, "negzero"))));
}

static void test_tables_and_arrays_of_tables(void **state)
{
        _cleanup_toml_ TomlValue *root = parse_ok("[a.b.c]\n"
                                                  "x = 1\n"
                                                  "[a]\n"
                                                  "y = 2\n"
                                                  "[[fruits]]\n"
                                                  "name = 'apple'\n"
                                                  "[fruits.physical]\n"
                                                  "color = 'red'\n"
                                                  "[[fruits.varieties]]\n"
                                                  "name = 'fuji'\n"
                                                  "[[fruits]]\n"
                                                  "name = 'banana'\n"
                                                  "[fruit]\n"
                                                  "apple.color = 'red'\n"
                                                  "apple.taste.sweet = true\n"
                                                  "[fruit.apple.texture]\n"
                                                  "smooth = true\n"
                                                  /* dotted keys may fill a table a header only created */
                                                  "[x.y.z]\n"
                                                  "[x]\n"
                                                  "y.w = 1\n"
                                                  "[x.y.z.v]\n");
        const TomlValue *a, *fruits, *f0, *apple;

        a = toml_table_get(root, "a");
        assert_int_equal(toml_table_size(a), 2);
        assert_string_equal(toml_table_key_at(a, 0), "b");
        assert_string_equal(toml_table_key_at(a, 1), "y");
        assert_int_equal(toml_integer(toml_table_get(toml_table_get(toml_table_get(a, "b"), "c"), "x")), 1);

        fruits = toml_table_get(root, "fruits");
        assert_int_equal(toml_type(fruits), TOML_ARRAY);
        assert_int_equal(toml_array_size(fruits), 2);
        f0 = toml_array_get(fruits, 0);
        assert_string_equal(toml_string(toml_table_get(f0, "name"), NULL), "apple");
        assert_string_equal(toml_string(toml_table_get(toml_table_get(f0, "physical"), "color"), NULL),
                            "red");
        assert_int_equal(toml_array_size(toml_table_get(f0, "varieties")), 1);
        assert_string_equal(toml_string(toml_table_get(toml_array_get(fruits, 1), "name"), NULL), "banana");
        assert_int_equal(toml_line(f0), 5);
        assert_int_equal(toml_line(toml_array_get(fruits, 1)), 11);

        apple = toml_table_get(toml_table_get(root, "fruit"), "apple");
        assert_int_equal(toml_table_size(apple), 3);
        assert_true(toml_boolean(toml_table_get(toml_table_get(apple, "texture"), "smooth")));
        assert_int_equal(toml_integer(toml_table_get(toml_table_get(toml_table_get(root, "x"), "y"), "w")),
                         1);
}

static void test_empty_and_bom(void **state)
{
        TomlValue *root = NULL;

        assert_int_equal(toml_parse("", 0, &root, NULL), 0);
        assert_int_equal(toml_table_size(root), 0);
        toml_free(root);
        root = NULL;
        assert_int_equal(toml_parse(NULL, 0, &root, NULL), 0);
        toml_free(root);
        root = NULL;

        root = parse_ok("\xef\xbb\xbf"
                        "a = 1\n");
        assert_int_equal(toml_column(toml_table_get(root, "a")), 5);
        toml_free(root);

        parse_fail("a = 1\n\xef\xbb\xbf", 9, -EINVAL, 2, 1, "expected a key");
        toml_free(NULL);
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_large_table(void **state)
{
        const size_t n = 100000;
        Buf b = BUF_INIT(64 << 20);
        TomlValue *root = NULL;
        TomlError e = {};
        double t0, elapsed;
        char key[32];

        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_printf(&b, "key%zu = %zu\n", i, i), 0);
        t0 = now();
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        elapsed = now() - t0;
        /* well under a second even under sanitizers; quadratic behaviour would take minutes */
        if (elapsed > 5.0)
                fail_msg("parsing %zu keys took %.2f s", n, elapsed);
        assert_int_equal(toml_table_size(root), n);
        for (size_t i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "key%zu", i);
                assert_int_equal(toml_integer(toml_table_get(root, key)), (int64_t)i);
                assert_string_equal(toml_table_key_at(root, i), key);
        }
        assert_null(toml_table_get(root, "key100000"));
        toml_free(root);

        /* a duplicate at the very end is still found through the index */
        assert_int_equal(buf_puts(&b, "key77 = 1\n"), 0);
        root = NULL;
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), -EINVAL);
        assert_int_equal(e.line, n + 1);
        assert_non_null(strstr(e.message, "duplicate key 'key77'"));

        /* many [[array]] headers */
        buf_truncate(&b, 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(buf_printf(&b, "[[x]]\nk = %zu\n[x.y]\n", i), 0);
        t0 = now();
        assert_int_equal(toml_parse(b.data, b.len, &root, &e), 0);
        elapsed = now() - t0;
        if (elapsed > 5.0)
                fail_msg("parsing %zu array tables took %.2f s", n, elapsed);
        assert_int_equal(toml_array_size(toml_table_get(root, "x")), n);
        toml_free(root);
        buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic_lookup),
                cmocka_unit_test(test_type_names),
                cmocka_unit_test(test_document_order),
                cmocka_unit_test(test_positions),
                cmocka_unit_test(test_datetimes),
                cmocka_unit_test(test_datetime_ranges),
                cmocka_unit_test(test_depth_cap),
                cmocka_unit_test(test_error_positions),
                cmocka_unit_test(test_long_keys_in_messages),
                cmocka_unit_test(test_nul_in_strings_and_keys),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_tables_and_arrays_of_tables),
                cmocka_unit_test(test_empty_and_bom),
                cmocka_unit_test(test_large_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

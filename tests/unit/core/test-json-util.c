/* test-json-util.c — unit tests for src/core/json-util.c: strict parsing (duplicate keys, bad UTF-8,
 * trailing data, huge integers) and the typed member readers (strings, integers, numbers, booleans) with
 * their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "error.h"
#include "json-util.h"

static void test_json_strict(void **state)
{
        json_t *j = NULL;
        Error e = { { 0 } };
        const char *s;
        int64_t i;
        double d;

        assert_int_equal(json_parse_strict("{\"a\":1,\"a\":2}", 13, &j, &e), -EINVAL);
        assert_non_null(strstr(e.message, "line 1"));
        assert_int_equal(json_parse_strict("{\"a\":\"\xff\"}", 8, &j, &e), -EINVAL);
        assert_int_equal(json_parse_strict("{} x", 4, &j, &e), -EINVAL);
        assert_int_equal(json_parse_strict("{\"a\":99999999999999999999}", 26, &j, &e), -EINVAL);

        assert_int_equal(json_parse_strict("{\"s\":\"v\",\"i\":7,\"f\":0.5}", 23, &j, &e), 0);
        assert_int_equal(json_member_string(j, "s", true, "thing", &s, &e), 0);
        assert_string_equal(s, "v");
        assert_int_equal(json_member_string(j, "i", true, "thing", &s, &e), -EINVAL);
        assert_string_equal(e.message, "thing: field 'i' must be a string, got integer");
        assert_int_equal(json_member_string(j, "zz", true, "thing", &s, &e), -ENOENT);
        assert_string_equal(e.message, "thing: missing field 'zz'");
        assert_int_equal(json_member_int(j, "i", true, "thing", 0, 5, &i, &e), -ERANGE);
        assert_int_equal(json_member_int(j, "i", true, "thing", 0, 10, &i, &e), 0);
        assert_true(i == 7);
        assert_int_equal(json_member_int(j, "f", true, "thing", 0, 10, &i, &e), -EINVAL);
        assert_int_equal(json_member_number(j, "i", true, "thing", &d, &e), 0);
        assert_true(d == 7.0);
        json_decref(j);
}

static void test_json_member_bool(void **state)
{
        static const char doc[] = "{\"t\":true,\"f\":false,\"i\":1,\"s\":\"true\",\"n\":null}";
        json_t *j = NULL, *arr = NULL;
        Error e = { { 0 } };
        bool b = false;

        assert_int_equal(json_parse_strict(doc, strlen(doc), &j, &e), 0);
        assert_int_equal(json_member_bool(j, "t", true, "thing", &b, &e), 0);
        assert_true(b);
        assert_int_equal(json_member_bool(j, "f", true, "thing", &b, &e), 0);
        assert_false(b);

        /* Absent: -ENOENT, *ret untouched, a message only when required. */
        b = true;
        e.message[0] = 0;
        assert_int_equal(json_member_bool(j, "zz", false, "thing", &b, &e), -ENOENT);
        assert_true(b);
        assert_string_equal(e.message, "");
        assert_int_equal(json_member_bool(j, "zz", true, "thing", &b, &e), -ENOENT);
        assert_string_equal(e.message, "thing: missing field 'zz'");
        assert_true(b);

        /* Other types, even 1, "true" and null: -EINVAL naming what, the key and the type. */
        assert_int_equal(json_member_bool(j, "i", false, "thing", &b, &e), -EINVAL);
        assert_string_equal(e.message, "thing: field 'i' must be a boolean, got integer");
        assert_int_equal(json_member_bool(j, "s", false, "thing", &b, &e), -EINVAL);
        assert_string_equal(e.message, "thing: field 's' must be a boolean, got string");
        assert_int_equal(json_member_bool(j, "n", false, "thing", &b, &e), -EINVAL);
        assert_string_equal(e.message, "thing: field 'n' must be a boolean, got null");
        assert_true(b);
        assert_int_equal(json_member_bool(j, "t", false, "thing", &b, NULL), 0); /* e may be NULL */

        /* Not an object. */
        assert_int_equal(json_parse_strict("[true]", 6, &arr, &e), 0);
        assert_int_equal(json_member_bool(arr, "t", false, "thing", &b, &e), -EINVAL);
        assert_string_equal(e.message, "thing: expected an object, got array");
        json_decref(arr);
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_strict),
                cmocka_unit_test(test_json_member_bool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

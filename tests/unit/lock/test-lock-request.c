/* test-lock-request.c — FleetLock request parsing (Zincati's and Airlock's shapes), admin bodies and
 * bearer tokens (lock-request.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lock-request.h"

static void test_shapes(void **state)
{
        const char *zincati =
                "{\n  \"client_params\": {\n    \"id\": \"e0f3745b108f471cbd4883c6fbed8cdd\",\n"
                "    \"group\": \"default\"\n  }\n}";
        const char *airlock = "{\"client_params\":{\"id\":\"n1\",\"group\":\"workers.eu-1\"},\"extra\":1}";
        FleetLockRequest r = { 0 };
        Error e;

        assert_int_equal(fleetlock_request_parse(zincati, strlen(zincati), &r, &e), 0);
        assert_string_equal(r.id, "e0f3745b108f471cbd4883c6fbed8cdd");
        assert_string_equal(r.group, "default");
        fleetlock_request_done(&r);
        assert_int_equal(fleetlock_request_parse(airlock, strlen(airlock), &r, &e), 0);
        assert_string_equal(r.group, "workers.eu-1");
        fleetlock_request_done(&r);
        /* other UTF-8 is fine: the neighbours of the refused ranges, and a right-to-left script */
        const char *utf8 = "{\"client_params\":{\"id\":\"n\u00a0\u202f\u2065\u206a\u200d\",\"group\":"
                           "\"\u05e2\u05d1\u05e8\u05d9\u05ea\"}}";
        assert_int_equal(fleetlock_request_parse(utf8, strlen(utf8), &r, &e), 0);
        assert_string_equal(r.id, "n\xc2\xa0\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\x8d");
        assert_string_equal(r.group, "\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa");
        fleetlock_request_done(&r);
        assert_true(fleetlock_header_valid("true"));
        assert_false(fleetlock_header_valid("True"));
        assert_false(fleetlock_header_valid("true "));
        assert_false(fleetlock_header_valid(NULL));
}

static void expect_bad(const char *body, const char *msg)
{
        FleetLockRequest r = { 0 };
        Error e = { { 0 } };
        assert_true(fleetlock_request_parse(body, strlen(body), &r, &e) < 0);
        assert_null(r.id);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
}

static void test_bad(void **state)
{
        expect_bad("", "empty body");
        expect_bad("{", "not valid JSON");
        expect_bad("{}", "missing field 'client_params'");
        expect_bad("{\"client_params\":[]}", "must be an object");
        expect_bad("{\"client_params\":{\"group\":\"g\"}}", "missing field 'id'");
        expect_bad("{\"client_params\":{\"id\":\"a\"}}", "missing field 'group'");
        expect_bad("{\"client_params\":{\"id\":\"\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\",\"group\":\"g\\nh\"}}", "client_params.group");
        expect_bad("{\"client_params\":{\"id\":\"a\",\"group\":\"g\\u0085h\"}}", "client_params.group");
        /* ids and groups reach logs and terminals: no control, bidi or invalid character */
        expect_bad("{\"client_params\":{\"id\":\"a\\u001b[2Jb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u0085b\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u009bb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u202eb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u2066b\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u200fb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\u061cb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\\ufffeb\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\xe2\x80\xae\",\"group\":\"g\"}}", "client_params.id");
        expect_bad("{\"client_params\":{\"id\":\"a\",\"group\":\"g\\u2069\"}}", "client_params.group");
        expect_bad("{\"client_params\":{\"id\":\"a\",\"group\":\"\\u202ag\"}}", "client_params.group");
        expect_bad("{\"client_params\":{\"id\":\"a\",\"group\":\"g\"},\"client_params\":{}}", "duplicate");
        char *big = malloc(70000);
        memset(big, ' ', 69999);
        big[69999] = 0;
        FleetLockRequest r;
        Error e;
        assert_int_equal(fleetlock_request_parse(big, 69999, &r, &e), -E2BIG);
        free(big);
}

static void test_admin_and_bearer(void **state)
{
        char *id = NULL;
        Error e;
        assert_int_equal(admin_release_parse("{\"id\":\"n1\"}", 11, &id, &e), 0);
        assert_string_equal(id, "n1");
        free(id);
        assert_true(admin_release_parse("{\"id\":\"\"}", 9, &id, &e) < 0);
        /* an admin can still release a holder with a bidi control, recorded before FleetLock refused it */
        assert_int_equal(admin_release_parse("{\"id\":\"a\\u202eb\"}", 17, &id, &e), 0);
        assert_string_equal(id, "a\xe2\x80\xae"
                                "b");
        free(id);
        assert_true(admin_release_parse("{\"id\":\"a\\u001bb\"}", 17, &id, &e) < 0);
        assert_true(admin_release_parse("", 0, &id, &e) < 0);
        assert_true(bearer_matches("Bearer abc", "abc"));
        assert_true(bearer_matches("bearer  abc", "abc"));
        assert_false(bearer_matches("Bearer abcd", "abc"));
        assert_false(bearer_matches("Bearer ab", "abc"));
        assert_false(bearer_matches("Basic abc", "abc"));
        assert_false(bearer_matches(NULL, "abc"));
        assert_false(bearer_matches("Bearer ", ""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shapes),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_admin_and_bearer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

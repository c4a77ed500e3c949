/* test-agent-request.c — the parser of upkeep-agent's status socket requests: what older clients send is
 * still accepted, the new methods and their arguments, and what is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent-request.h"
#include "macros.h"

#define S(lit) (lit), strlen(lit)

/* What `upkeep status` and `upkeep update-now` of every earlier version write, byte for byte. */
static void test_old_clients(void **state)
{
        AgentRequest r = { .method = _AGENT_METHOD_MAX };
        Error e = {};

        assert_int_equal(agent_request_decode(S("{\"method\":\"status\"}\n"), &r, &e), 0);
        assert_int_equal(r.method, AGENT_METHOD_STATUS);
        assert_string_equal(r.release, "");
        assert_int_equal(agent_request_decode(S("{\"method\":\"update-now\"}\n"), &r, &e), 0);
        assert_int_equal(r.method, AGENT_METHOD_UPDATE_NOW);
        assert_string_equal(r.release, "");
        /* no newline (the client closed its write side), CRLF, unknown members ignored */
        assert_int_equal(agent_request_decode(S("{\"method\":\"status\"}"), &r, &e), 0);
        assert_int_equal(agent_request_decode(S("{\"method\":\"status\"}\r\n"), &r, &e), 0);
        assert_int_equal(agent_request_decode(S("{\"method\":\"update-now\",\"x\":1}"), &r, &e), 0);
        assert_int_equal(r.method, AGENT_METHOD_UPDATE_NOW);
        /* a status request with an argument of another method ignores it */
        assert_int_equal(agent_request_decode(S("{\"method\":\"status\",\"allow\":7}"), &r, &e), 0);
        assert_int_equal(r.method, AGENT_METHOD_STATUS);
}

static void test_new_methods(void **state)
{
        AgentRequest r = {};
        Error e = {};

        assert_int_equal(
                agent_request_decode(S("{\"method\":\"forget-release\",\"release\":\"41.20250101.3.0\"}\n"),
                                     &r, &e),
                0);
        assert_int_equal(r.method, AGENT_METHOD_FORGET_RELEASE);
        assert_string_equal(r.release, "41.20250101.3.0");
        assert_int_equal(agent_request_decode(
                                 S("{\"release\":\"0123abcdef\",\"method\":\"forget-release\"}"), &r, &e),
                         0);
        assert_string_equal(r.release, "0123abcdef");
        assert_int_equal(agent_request_decode(S("{\"method\":\"update-now\",\"allow\":\"42.1\"}"), &r, &e),
                         0);
        assert_int_equal(r.method, AGENT_METHOD_UPDATE_NOW);
        assert_string_equal(r.release, "42.1");

        assert_string_equal(agent_method_name(AGENT_METHOD_FORGET_RELEASE), "forget-release");
        assert_string_equal(agent_method_name(AGENT_METHOD_UPDATE_NOW), "update-now");
        assert_null(agent_method_name(_AGENT_METHOD_MAX));
}

static void test_bad_arguments(void **state)
{
        AgentRequest r = { .method = AGENT_METHOD_STATUS, .release = "kept" };
        char big[AGENT_REQUEST_ARG_MAX + 64];
        Error e = {};
        int n;

        assert_int_equal(agent_request_decode(S("{\"method\":\"forget-release\"}"), &r, &e), -EINVAL);
        assert_non_null(strstr(e.message, "release"));
        assert_int_equal(agent_request_decode(S("{\"method\":\"forget-release\",\"release\":1}"), &r, &e),
                         -EINVAL);
        assert_int_equal(agent_request_decode(S("{\"method\":\"forget-release\",\"release\":\"\"}"), &r, &e),
                         -EINVAL);
        assert_int_equal(
                agent_request_decode(S("{\"method\":\"forget-release\",\"release\":\"a b\"}"), &r, &e),
                -EINVAL);
        assert_int_equal(
                agent_request_decode(S("{\"method\":\"update-now\",\"allow\":\"x\\u001b[2J\"}"), &r, &e),
                -EINVAL);
        assert_null(strchr(e.message, '\x1b'));
        assert_int_equal(
                agent_request_decode(S("{\"method\":\"update-now\",\"allow\":\"\xc3\xa9\"}"), &r, &e),
                -EINVAL);
        assert_int_equal(agent_request_decode(S("{\"method\":\"update-now\",\"allow\":null}"), &r, &e),
                         -EINVAL);
        /* the longest argument passes, one more byte does not */
        n = snprintf(big, sizeof big, "{\"method\":\"forget-release\",\"release\":\"%0*d\"}",
                     AGENT_REQUEST_ARG_MAX, 0);
        assert_int_equal(agent_request_decode(big, (size_t)n, &r, &e), 0);
        assert_int_equal(strlen(r.release), AGENT_REQUEST_ARG_MAX);
        r = (AgentRequest){ .method = AGENT_METHOD_STATUS, .release = "kept" };
        n = snprintf(big, sizeof big, "{\"method\":\"forget-release\",\"release\":\"%0*d\"}",
                     AGENT_REQUEST_ARG_MAX + 1, 0);
        assert_int_equal(agent_request_decode(big, (size_t)n, &r, &e), -EINVAL);
        /* on failure *ret is untouched */
        assert_int_equal(r.method, AGENT_METHOD_STATUS);
        assert_string_equal(r.release, "kept");
}

static void test_refused(void **state)
{
        AgentRequest r = {};
        Error e = {};
        char big[AGENT_REQUEST_SIZE_MAX + 2];

        assert_int_equal(agent_request_decode(S("{\"method\":\"reboot\"}"), &r, &e), -EINVAL);
        assert_string_equal(e.message, "unknown method 'reboot' (status, update-now, forget-release)");
        assert_int_equal(agent_request_decode(S("{}"), &r, &e), -EINVAL);
        assert_non_null(strstr(e.message, "method"));
        assert_int_equal(agent_request_decode(S("[1]"), &r, &e), -EINVAL);
        assert_non_null(strstr(e.message, "JSON object"));
        assert_int_equal(agent_request_decode(S("{\"method\":1}"), &r, &e), -EINVAL);
        assert_int_equal(agent_request_decode(S("{\"method\":"), &r, &e), -EINVAL);
        assert_non_null(strstr(e.message, "not JSON"));
        assert_int_equal(agent_request_decode(S("{\"method\":\"status\",\"method\":\"status\"}"), &r, &e),
                         -EINVAL);
        assert_int_equal(agent_request_decode(S("{\"method\":\"st\xff\"}"), &r, &e), -EINVAL);
        assert_int_equal(agent_request_decode(S(""), &r, &e), -EINVAL);
        assert_int_equal(agent_request_decode(S("\n"), &r, &e), -EINVAL);
        assert_int_equal(agent_request_decode(S("{\"method\":\"status\"}\n{}"), &r, &e), -EINVAL);
        memset(big, ' ', sizeof big);
        assert_int_equal(agent_request_decode(big, sizeof big, &r, &e), -E2BIG);
        assert_int_equal(agent_request_decode(big, AGENT_REQUEST_SIZE_MAX + 1, &r, &e), -E2BIG);
        /* a control character in the method is not echoed raw */
        assert_int_equal(agent_request_decode(S("{\"method\":\"a\\u001b[2Jb\"}"), &r, &e), -EINVAL);
        assert_null(strchr(e.message, '\x1b'));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_old_clients),
                cmocka_unit_test(test_new_methods),
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

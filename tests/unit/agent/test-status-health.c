/* test-status-health.c — the health and bad-release lines of `upkeep status`: the agreed status shape,
 * an older agent's document (nothing shown), hostile texts and wrong types, and a full buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json-util.h"
#include "macros.h"
#include "status-health.h"

static json_t *parse(const char *text)
{
        json_t *j = NULL;
        Error e = {};

        assert_int_equal(json_parse_strict(text, strlen(text), &j, &e), 0);
        return j;
}

/* status_health_format(doc) as a NUL-terminated string (caller frees). */
static char *format(const char *doc)
{
        _cleanup_json_ json_t *j = parse(doc);
        Buf b = BUF_INIT(1u << 20);

        assert_int_equal(status_health_format(j, &b), 0);
        return buf_steal(&b, NULL);
}

static void test_shape(void **state)
{
        _cleanup_free_ char *s = format(
                "{\"health\":{\"state\":\"red\",\"booted_version\":\"42.1\",\"attempts_left\":1,"
                "\"failed\":\"kubelet, disk\",\"reason\":\"required checks "
                "failed\",\"manual_intervention\":false,"
                "\"checks\":[{\"name\":\"kubelet\",\"required\":true,\"ok\":false,\"duration_ms\":5000,"
                "\"output\":\"inactive\"},{\"name\":\"ping\",\"required\":false,\"ok\":true,\"duration_ms\":"
                "12,"
                "\"output\":\"\"}]},"
                "\"bad_releases\":[{\"version\":\"42.1\",\"checksum\":\"0123456789abcdef0123\",\"outcome\":"
                "\"rolled_back\",\"reason\":\"kubelet failed\",\"time\":1764547200},{\"version\":\"42.2\","
                "\"checksum\":\"fedcba9876543210\",\"outcome\":\"boot_fallback\",\"reason\":\"no "
                "userspace\","
                "\"time\":1764633600}]}");

        assert_string_equal(
                s, "Health:         red, booted 42.1, 1 boot attempts left\n"
                   "                failed: kubelet, disk\n"
                   "                required checks failed\n"
                   "  kubelet       required, FAILED, 5000 ms: inactive\n"
                   "  ping          wanted, ok, 12 ms\n"
                   "Bad releases:   42.1 (0123456789ab), rolled_back at 2025-12-01T00:00:00Z: kubelet "
                   "failed\n"
                   "                42.2 (fedcba987654), boot_fallback at 2025-12-02T00:00:00Z: no "
                   "userspace\n");
}

static void test_older_agent_and_empty(void **state)
{
        _cleanup_free_ char *old = format("{\"state\":\"idle\",\"node\":{}}");
        _cleanup_free_ char *empty =
                format("{\"health\":{\"state\":\"green\",\"booted_version\":\"41\",\"attempts_left\":3,"
                       "\"failed\":\"\","
                       "\"reason\":\"\",\"manual_intervention\":true,\"checks\":[]},\"bad_releases\":[]}");

        assert_string_equal(old, "");
        assert_string_equal(empty, "Health:         green, booted 41, 3 boot attempts left, manual "
                                   "intervention needed\n"
                                   "Bad releases:   none\n");
}

static void test_hostile(void **state)
{
        /* escapes and newlines from a check's output or a graph server's reason stay off the terminal */
        _cleanup_free_ char *s =
                format("{\"health\":{\"state\":7,\"reason\":\"a\\u001b[2Jb\\nc\",\"checks\":[{\"name\":[1],"
                       "\"output\":\"x\\ry\"},5]},\"bad_releases\":[{\"time\":\"yesterday\\u0007\"},null]}");

        assert_null(strchr(s, '\x1b'));
        assert_null(strchr(s, '\r'));
        assert_null(strchr(s, '\a'));
        assert_non_null(strstr(s, "Health:         7, booted -\n"));
        assert_non_null(strstr(s, "                a?[2Jb c\n"));
        assert_non_null(strstr(s, "  -             wanted, FAILED: x y\n"));
        assert_non_null(strstr(s, "Bad releases:   - (-), - at yesterday?: -\n"));
        /* not an object: nothing, and no crash */
        _cleanup_json_ json_t *arr = parse("[1]");
        Buf b = BUF_INIT(64);
        assert_int_equal(status_health_format(arr, &b), 0);
        assert_int_equal(b.len, 0);
        assert_int_equal(status_health_format(NULL, &b), 0);
        buf_free(&b);
}

static void test_full_buffer(void **state)
{
        _cleanup_json_ json_t *j = parse("{\"health\":{\"state\":\"green\",\"booted_version\":\"41\"},"
                                         "\"bad_releases\":[{\"version\":\"40\"}]}");
        Buf b = BUF_INIT(40);

        assert_int_equal(buf_puts(&b, "kept"), 0);
        assert_int_equal(status_health_format(j, &b), -ENOBUFS);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "kept");
        buf_free(&b);
}

static void test_gate(void **state)
{
        static const struct {
                const char *doc, *state;
                HealthGate gate;
        } cases[] = {
                { "{\"health\":{\"state\":\"steady\"}}", "steady", HEALTH_GATE_PASS },
                { "{\"health\":{\"state\":\"succeeded\"}}", "succeeded", HEALTH_GATE_PASS },
                { "{\"health\":{\"state\":\"recovered\"}}", "recovered", HEALTH_GATE_PASS },
                { "{\"health\":{\"state\":\"disabled\"}}", "disabled", HEALTH_GATE_PASS },
                { "{\"health\":{\"state\":\"manual\"}}", "manual", HEALTH_GATE_FAIL },
                { "{\"health\":{\"state\":\"idle\"}}", "idle", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":\"checking\"}}", "checking", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":\"stabilizing\"}}", "stabilizing", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":\"rebooting\"}}", "rebooting", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":\"rolling_back\"}}", "rolling_back", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":7}}", "", HEALTH_GATE_WAIT },
                { "{\"health\":{}}", "", HEALTH_GATE_WAIT },
                { "{\"health\":{\"state\":\"something new\"}}", "something new", HEALTH_GATE_WAIT },
                { "{\"state\":\"idle\"}", "", HEALTH_GATE_PASS }, /* an agent older than health checks */
                { "{\"health\":[]}", "", HEALTH_GATE_PASS },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                _cleanup_json_ json_t *j = parse(cases[i].doc);
                const char *st = NULL;
                assert_int_equal(status_health_gate(j, &st), cases[i].gate);
                assert_string_equal(st, cases[i].state);
                assert_int_equal(status_health_gate(j, NULL), cases[i].gate);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shape),   cmocka_unit_test(test_older_agent_and_empty),
                cmocka_unit_test(test_hostile), cmocka_unit_test(test_full_buffer),
                cmocka_unit_test(test_gate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

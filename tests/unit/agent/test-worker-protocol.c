/* test-worker-protocol.c — the protocol between upkeep-agent and upkeep-agent-worker: the name tables both
 * ways, request building and parsing (caps, bad input), the worker's progress, success and failure lines
 * read back as the agent reads them, and the decoding of check, lock and status results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "worker-protocol.h"

static void test_names(void **state)
{
        for (int i = 0; i < _WORKER_COMMAND_MAX; i++) {
                assert_non_null(worker_command_to_string(i));
                assert_int_equal(worker_command_from_string(worker_command_to_string(i)), i);
        }
        for (int i = 0; i < _WORKER_DECISION_MAX; i++) {
                assert_non_null(worker_decision_to_string(i));
                assert_int_equal(worker_decision_from_string(worker_decision_to_string(i)), i);
        }
        for (int i = 0; i < _WORKER_ERROR_MAX; i++) {
                assert_non_null(worker_error_kind_to_string(i));
                assert_int_equal(worker_error_kind_from_string(worker_error_kind_to_string(i)), i);
        }
        /* the spellings docs/agent.md gives */
        assert_string_equal(worker_command_to_string(WORKER_COMMAND_FINALIZE), "finalize");
        assert_string_equal(worker_decision_to_string(WORKER_DECISION_DOWNGRADE_REFUSED),
                            "downgrade_refused");
        assert_string_equal(worker_decision_to_string(WORKER_DECISION_NOT_IN_GRAPH), "not_in_graph");
        assert_string_equal(worker_error_kind_to_string(WORKER_ERROR_HTTP_STATUS), "http_status");
        assert_string_equal(worker_error_kind_to_string(WORKER_ERROR_OS), "os");
        /* unknown */
        assert_int_equal(worker_command_from_string("reboot"), -EINVAL);
        assert_int_equal(worker_command_from_string("Status"), -EINVAL);
        assert_int_equal(worker_command_from_string(""), -EINVAL);
        assert_int_equal(worker_command_from_string(NULL), -EINVAL);
        assert_int_equal(worker_decision_from_string("updates"), -EINVAL);
        assert_int_equal(worker_error_kind_from_string("timeout"), -EINVAL);
        assert_null(worker_command_to_string(_WORKER_COMMAND_MAX));
        assert_null(worker_command_to_string(-1));
        assert_null(worker_error_kind_to_string(_WORKER_ERROR_INVALID));
}

static void test_request_roundtrip(void **state)
{
        AgentConfig c = { .os_backend = AGENT_OS_BACKEND_RPM_OSTREE, .sysroot = (char *)"/sysroot" };
        _cleanup_json_ json_t *os = worker_os_new(&c, true), *req = NULL;
        _cleanup_free_ char *text = NULL;
        WorkerCommand cmd;
        Error e = {};

        assert_non_null(os);
        assert_string_equal(json_string_value(json_object_get(os, "backend")), "rpm-ostree");
        assert_true(json_is_true(json_object_get(os, "register")));
        assert_true(json_is_null(json_object_get(os, "osname"))); /* unset options are null */

        assert_int_equal(worker_request_format(
                                 WORKER_COMMAND_STAGE,
                                 json_pack("{s:{s:s,s:s}}", "release", "version", "41.1", "payload", "abc"),
                                 os, &text, &e),
                         0);
        assert_null(strchr(text, '\n'));
        assert_int_equal(worker_request_parse(text, strlen(text), &cmd, &req, &e), 0);
        assert_int_equal(cmd, WORKER_COMMAND_STAGE);
        assert_string_equal(json_string_value(json_object_get(req, "command")), "stage");
        assert_string_equal(json_string_value(json_object_get(json_object_get(req, "release"), "payload")),
                            "abc");
        assert_string_equal(json_string_value(json_object_get(json_object_get(req, "os"), "sysroot")),
                            "/sysroot");
}

static void test_request_no_args(void **state)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *req = NULL;
        WorkerCommand cmd;
        Error e = {};

        assert_int_equal(worker_request_format(WORKER_COMMAND_STATUS, NULL, NULL, &text, &e), 0);
        assert_string_equal(text, "{\"command\":\"status\"}");
        /* a trailing newline is accepted */
        assert_int_equal(worker_request_parse("{\"command\":\"check\"}\n", 20, &cmd, &req, &e), 0);
        assert_int_equal(cmd, WORKER_COMMAND_CHECK);
}

static void check_bad_request(const char *text, int error, const char *message)
{
        json_t *req = (json_t *)0x1;
        WorkerCommand cmd = _WORKER_COMMAND_INVALID;
        Error e = {};

        assert_int_equal(worker_request_parse(text, strlen(text), &cmd, &req, &e), error);
        assert_string_equal(e.message, message);
        assert_ptr_equal(req, (json_t *)0x1); /* untouched on failure */
        assert_int_equal(cmd, _WORKER_COMMAND_INVALID);
}

static void test_request_bad(void **state)
{
        char *big;

        check_bad_request("", -EINVAL, "the request is not a JSON object");
        check_bad_request("[1]", -EINVAL, "the request is not a JSON object");
        check_bad_request("{\"command\":\"status\"", -EINVAL, "the request is not a JSON object");
        check_bad_request("{\"command\":\"status\",\"command\":\"check\"}", -EINVAL,
                          "the request is not a JSON object");
        check_bad_request("{}", -EINVAL, "the request has no \"command\"");
        check_bad_request("{\"command\":7}", -EINVAL, "the request has no \"command\"");
        check_bad_request("{\"command\":\"reboot\"}", -EINVAL, "unknown command");

        big = malloc(WORKER_REQUEST_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', WORKER_REQUEST_MAX + 1);
        big[WORKER_REQUEST_MAX + 1] = 0;
        check_bad_request(big, -E2BIG, "the request is larger than 1048576 bytes");
        free(big);
}

static void test_request_too_big(void **state)
{
        char *text = NULL, *huge = malloc(WORKER_REQUEST_MAX + 1);
        Error e = {};

        assert_non_null(huge);
        memset(huge, 'x', WORKER_REQUEST_MAX);
        huge[WORKER_REQUEST_MAX] = 0;
        assert_int_equal(worker_request_format(WORKER_COMMAND_CHECK, json_pack("{s:s}", "pad", huge), NULL,
                                               &text, &e),
                         -E2BIG);
        assert_null(text);
        assert_non_null(strstr(e.message, "check request is larger"));
        free(huge);
}

/* Reads a line the worker wrote as the agent does: the newline off. */
static int read_line(const char *line, WorkerProgress *p, json_t **j)
{
        size_t n = strlen(line);
        Error e = {};

        assert_true(n > 0 && line[n - 1] == '\n');
        assert_null(memchr(line, '\n', n - 1)); /* one line */
        return worker_line_parse(line, n - 1, p, j, &e);
}

static void test_progress_line(void **state)
{
        _cleanup_free_ char *line = NULL;
        WorkerProgress p = {};
        json_t *j = NULL;

        assert_int_equal(
                worker_progress_format(
                        &(WorkerProgress){ .bytes = 1ull << 40, .fetched = 3, .requested = 9 }, &line),
                0);
        assert_int_equal(read_line(line, &p, &j), 0);
        assert_null(j);
        assert_true(p.bytes == 1ull << 40);
        assert_int_equal(p.fetched, 3);
        assert_int_equal(p.requested, 9);
}

static void test_success_line(void **state)
{
        _cleanup_free_ char *line = NULL, *empty = NULL;
        _cleanup_json_ json_t *j = NULL, *k = NULL;
        WorkerProgress p = {};
        Error e = {};

        assert_int_equal(worker_success_format(json_pack("{s:b}", "reboots", true), &line), 0);
        assert_string_equal(line, "{\"ok\":true,\"reboots\":true}\n");
        assert_int_equal(read_line(line, &p, &j), 1);
        assert_int_equal(worker_result_check(j, NULL, &e), 0);
        assert_true(json_is_true(json_object_get(j, "reboots")));

        assert_int_equal(worker_success_format(NULL, &empty), 0);
        assert_string_equal(empty, "{\"ok\":true}\n");
        assert_int_equal(read_line(empty, &p, &k), 1);
}

static void test_failure_line(void **state)
{
        _cleanup_free_ char *line = NULL, *plain = NULL;
        _cleanup_json_ json_t *j = NULL, *k = NULL;
        WorkerErrorKind kind = WORKER_ERROR_OS;
        WorkerProgress p = {};
        Error e = {};

        assert_int_equal(
                worker_failure_format(-EPROTO, WORKER_ERROR_HTTP_STATUS, "answered HTTP 500", &line), 0);
        assert_int_equal(read_line(line, &p, &j), 1);
        assert_int_equal(worker_result_check(j, &kind, &e), -EPROTO);
        assert_int_equal(kind, WORKER_ERROR_HTTP_STATUS);
        assert_string_equal(e.message, "answered HTTP 500");

        /* no kind: none in the line, -EINVAL read back */
        assert_int_equal(worker_failure_format(-ESRCH, _WORKER_ERROR_INVALID, "the agent is gone", &plain),
                         0);
        assert_null(strstr(plain, "error_kind"));
        assert_int_equal(read_line(plain, &p, &k), 1);
        assert_int_equal(worker_result_check(k, &kind, &e), -ESRCH);
        assert_int_equal(kind, _WORKER_ERROR_INVALID);
        assert_null(worker_result_metric_kind(k));
        assert_null(worker_result_metric_kind(j));

        /* Zincati's kind of a failed graph request travels as "metric_kind" */
        {
                _cleanup_free_ char *m = NULL;
                _cleanup_json_ json_t *mj = NULL;
                assert_int_equal(worker_failure_format_metric(-EPROTO, WORKER_ERROR_HTTP_STATUS,
                                                              "generic_http_503", "answered HTTP 503", &m),
                                 0);
                assert_int_equal(read_line(m, &p, &mj), 1);
                assert_int_equal(worker_result_check(mj, &kind, &e), -EPROTO);
                assert_int_equal(kind, WORKER_ERROR_HTTP_STATUS);
                assert_string_equal(worker_result_metric_kind(mj), "generic_http_503");
        }
}

static void check_result(const char *text, int error, WorkerErrorKind kind, const char *message)
{
        _cleanup_json_ json_t *j = json_loads(text, 0, NULL);
        WorkerErrorKind k = WORKER_ERROR_OS;
        Error e = {};

        assert_non_null(j);
        assert_int_equal(worker_result_check(j, &k, &e), error);
        assert_int_equal(k, kind);
        assert_string_equal(e.message, message);
}

static void test_result_check(void **state)
{
        /* what a worker that does not follow the protocol says is still an error with a message */
        check_result("{\"ok\":false}", -EIO, _WORKER_ERROR_INVALID, "the worker failed");
        check_result("{}", -EIO, _WORKER_ERROR_INVALID, "the worker failed");
        check_result("{\"ok\":1,\"error\":\"x\"}", -EIO, _WORKER_ERROR_INVALID, "x");
        check_result("{\"ok\":false,\"errno\":99999,\"error_kind\":\"os\"}", -EIO, WORKER_ERROR_OS,
                     "the worker failed");
        check_result("{\"ok\":false,\"errno\":-5,\"error_kind\":\"nope\"}", -EIO, _WORKER_ERROR_INVALID,
                     "the worker failed");
        check_result("{\"ok\":false,\"errno\":\"2\",\"error\":7}", -EIO, _WORKER_ERROR_INVALID,
                     "the worker failed");
        check_result("{\"ok\":false,\"errno\":114,\"error\":\"booted\",\"error_kind\":\"os\"}", -EALREADY,
                     WORKER_ERROR_OS, "booted");
}

static void check_bad_line(const char *line, int error)
{
        WorkerProgress p = {};
        json_t *j = NULL;
        Error e = {};

        assert_int_equal(worker_line_parse(line, strlen(line), &p, &j, &e), error);
        assert_null(j);
        assert_true(e.message[0] != 0);
}

static void test_bad_lines(void **state)
{
        check_bad_line("", -EBADMSG);
        check_bad_line("hello", -EBADMSG);
        check_bad_line("[]", -EBADMSG);
        check_bad_line("\"ok\"", -EBADMSG);
        check_bad_line("{\"progress\":5}", -EBADMSG);
        check_bad_line("{\"ok\":true} {\"ok\":true}", -EBADMSG);
        /* over the cap, whatever it holds */
        assert_int_equal(worker_line_parse("{}", WORKER_LINE_MAX + 1, &(WorkerProgress){},
                                           &(json_t *){ NULL }, &(Error){}),
                         -E2BIG);
}

static void test_progress_defaults(void **state)
{
        WorkerProgress p = { 1, 1, 1 };
        json_t *j = NULL;
        /* missing or negative counters read as 0 */
        const char *line = "{\"progress\":{\"bytes\":-4,\"fetched\":\"2\"}}";

        assert_int_equal(worker_line_parse(line, strlen(line), &p, &j, &(Error){}), 0);
        assert_int_equal(p.bytes, 0);
        assert_int_equal(p.fetched, 0);
        assert_int_equal(p.requested, 0);
}

static const char CHECK_RESULT[] =
        "{\"ok\":true,\"url\":\"http://g/v1/graph?x=1\",\"deployments\":[{\"osname\":\"fedora-coreos\","
        "\"checksum\":\"c1\",\"version\":\"41.1\",\"stream\":\"stable\",\"timestamp\":1,\"serial\":0,"
        "\"booted\":true,\"staged\":false,\"rollback\":false},{\"osname\":\"fedora-coreos\",\"checksum\":"
        "\"c0\",\"version\":\"41.0\",\"serial\":1,\"booted\":false,\"staged\":false,\"rollback\":true}],"
        "\"graph\":{\"nodes\":12,\"edges\":30,\"ignored\":2},\"decision\":\"update\",\"deadend\":false,"
        "\"target\":{\"version\":\"41.2\",\"payload\":\"c2\"}}";

static void test_check_result(void **state)
{
        _cleanup_json_ json_t *j = json_loads(CHECK_RESULT, 0, NULL);
        WorkerCheckResult c;
        WorkerDeployment d;

        assert_non_null(j);
        worker_check_result_parse(j, &c);
        assert_string_equal(c.url, "http://g/v1/graph?x=1");
        assert_int_equal(c.nodes, 12);
        assert_int_equal(c.edges, 30);
        assert_int_equal(c.ignored, 2);
        assert_int_equal(c.decision, WORKER_DECISION_UPDATE);
        assert_false(c.deadend);
        assert_string_equal(c.deadend_reason, "");
        assert_string_equal(c.target_version, "41.2");
        assert_string_equal(c.target_payload, "c2");

        assert_int_equal(worker_deployment_find(c.deployments, "booted", &d), 1);
        assert_string_equal(d.checksum, "c1");
        assert_string_equal(d.stream, "stable");
        assert_int_equal(json_integer_value(d.serial), 0);
        assert_int_equal(worker_deployment_find(c.deployments, "rollback", &d), 1);
        assert_string_equal(d.version, "41.0");
        assert_null(d.stream);
        assert_int_equal(worker_deployment_find(c.deployments, "staged", &d), 0);
        assert_int_equal(worker_deployment_find(NULL, "booted", &d), 0);
}

static void test_check_result_odd(void **state)
{
        _cleanup_json_ json_t *j =
                json_loads("{\"ok\":true,\"graph\":[],\"decision\":\"later\",\"deadend\":true,"
                           "\"deadend_reason\":\"eol\",\"target\":{\"version\":1}}",
                           0, NULL);
        WorkerCheckResult c;

        worker_check_result_parse(j, &c);
        assert_null(c.url);
        assert_null(c.deployments);
        assert_int_equal(c.nodes, 0);
        assert_int_equal(c.decision, -EINVAL);
        assert_true(c.deadend);
        assert_string_equal(c.deadend_reason, "eol");
        assert_null(c.target_version);
        assert_null(c.target_payload);
}

static void test_lock_result(void **state)
{
        _cleanup_json_ json_t *ok = json_loads("{\"ok\":true,\"status\":200,\"url\":\"u\"}", 0, NULL);
        _cleanup_json_ json_t *no = json_loads(
                "{\"ok\":true,\"status\":423,\"kind\":\"failed_lock\",\"value\":\"held\"}", 0, NULL);
        _cleanup_json_ json_t *odd = json_loads("{\"ok\":true,\"status\":\"200\"}", 0, NULL);
        WorkerLockResult l;

        worker_lock_result_parse(ok, &l);
        assert_int_equal(l.status, 200);
        assert_null(l.kind);
        assert_null(l.value);
        worker_lock_result_parse(no, &l);
        assert_int_equal(l.status, 423);
        assert_string_equal(l.kind, "failed_lock");
        assert_string_equal(l.value, "held");
        worker_lock_result_parse(odd, &l);
        assert_int_equal(l.status, 0);
}

static void test_lock_token(void **state)
{
        _cleanup_free_ char *big = malloc(WORKER_LOCK_TOKEN_MAX + 2);
        const char *token = (const char *)1;
        Error e = {};

        assert_true(worker_lock_token_valid("abc.DEF-123_~!"));
        assert_true(worker_lock_token_valid("x"));
        assert_false(worker_lock_token_valid(NULL));
        assert_false(worker_lock_token_valid(""));
        assert_false(worker_lock_token_valid("two words"));
        assert_false(worker_lock_token_valid("tab\there"));
        assert_false(worker_lock_token_valid("line\r\nX-Injected: 1"));
        assert_false(worker_lock_token_valid("del\x7f"));
        assert_false(worker_lock_token_valid("utf8-\xc3\xa9"));
        assert_non_null(big);
        memset(big, 'a', WORKER_LOCK_TOKEN_MAX);
        big[WORKER_LOCK_TOKEN_MAX] = 0;
        assert_true(worker_lock_token_valid(big));
        big[WORKER_LOCK_TOKEN_MAX] = 'a';
        big[WORKER_LOCK_TOKEN_MAX + 1] = 0;
        assert_false(worker_lock_token_valid(big));

        {
                _cleanup_json_ json_t *none = json_pack("{s:{s:s}}", "lock", "api", "pre-reboot");
                assert_int_equal(worker_lock_token_get(none, &token, &e), 0);
                assert_null(token);
        }
        {
                _cleanup_json_ json_t *ok =
                        json_pack("{s:{s:s,s:s}}", "lock", "api", "pre-reboot", "token", "s3cr3t-Token");
                assert_int_equal(worker_lock_token_get(ok, &token, &e), 0);
                assert_string_equal(token, "s3cr3t-Token");
        }
        {
                _cleanup_json_ json_t *num = json_pack("{s:{s:i}}", "lock", "token", 42);
                token = NULL;
                assert_int_equal(worker_lock_token_get(num, &token, &e), -EINVAL);
                assert_null(token);
        }
        {
                _cleanup_json_ json_t *sp = json_pack("{s:{s:s}}", "lock", "token", "has space-secret");
                assert_int_equal(worker_lock_token_get(sp, &token, &e), -EINVAL);
                /* the message never quotes the token */
                assert_null(strstr(e.message, "secret"));
                assert_non_null(strstr(e.message, "token"));
        }
        {
                _cleanup_json_ json_t *nul = json_pack("{s:{s:s#}}", "lock", "token", "ab\0cd", (size_t)5);
                assert_int_equal(worker_lock_token_get(nul, &token, &e), -EINVAL);
        }
        {
                _cleanup_json_ json_t *long_tok = json_pack("{s:{s:s}}", "lock", "token", big);
                assert_int_equal(worker_lock_token_get(long_tok, &token, &e), -EINVAL);
        }
}

static void test_report_request(void **state)
{
        const char *url, *token, *body;
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *req = NULL, *res = NULL;
        WorkerCommand cmd;
        long status = 0;
        Error e = {};

        assert_string_equal(worker_command_to_string(WORKER_COMMAND_REPORT), "report");
        assert_int_equal(
                worker_request_format(WORKER_COMMAND_REPORT,
                                      worker_report_args_new("http://g/v1/report", "t0k", "{\"a\":1}"), NULL,
                                      &text, &e),
                0);
        assert_int_equal(worker_request_parse(text, strlen(text), &cmd, &req, &e), 0);
        assert_int_equal(cmd, WORKER_COMMAND_REPORT);
        assert_int_equal(worker_report_get(req, &url, &token, &body, &e), 0);
        assert_string_equal(url, "http://g/v1/report");
        assert_string_equal(token, "t0k");
        assert_string_equal(body, "{\"a\":1}");
        json_decref(req);
        /* no token: the member is left out */
        req = worker_report_args_new("https://g/r", NULL, "{}");
        assert_int_equal(worker_report_get(req, &url, &token, &body, &e), 0);
        assert_null(token);
        assert_null(json_object_get(json_object_get(req, "report"), "token"));
        json_decref(req);

        static const char *const bad[] = {
                "{}",
                "{\"report\":1}",
                "{\"report\":{\"url\":\"ftp://g/\",\"body\":\"{}\"}}",
                "{\"report\":{\"url\":\"http://g/ x\",\"body\":\"{}\"}}",
                "{\"report\":{\"url\":\"http://g/\",\"body\":\"\"}}",
                "{\"report\":{\"url\":\"http://g/\",\"body\":\"{}\",\"token\":\"a b\"}}",
                "{\"report\":{\"url\":\"http://g/\",\"body\":\"{}\",\"token\":\"a\\r\\nX: y\"}}",
                "{\"report\":{\"url\":\"http://g/\",\"body\":7}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                req = json_loads(bad[i], 0, NULL);
                assert_non_null(req);
                assert_int_equal(worker_report_get(req, &url, &token, &body, &e), -EINVAL);
                assert_null(strstr(e.message, "X: y"));
                json_decref(req);
        }
        req = NULL;

        res = json_loads("{\"ok\":true,\"status\":202,\"excerpt\":\"{}\"}", 0, NULL);
        assert_int_equal(worker_report_status(res, &status), 0);
        assert_int_equal(status, 202);
        json_decref(res);
        res = json_loads("{\"ok\":true,\"status\":99}", 0, NULL);
        assert_int_equal(worker_report_status(res, &status), -EBADMSG);
        assert_int_equal(status, 202);
}

static void test_set_default_request(void **state)
{
        const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *req = NULL;
        const char *checksum = NULL;
        WorkerCommand cmd;
        Error e = {};

        assert_string_equal(worker_command_to_string(WORKER_COMMAND_SET_DEFAULT), "set-default");
        assert_string_equal(worker_error_kind_to_string(WORKER_ERROR_NO_DEPLOYMENT), "no_deployment");
        assert_string_equal(worker_error_kind_to_string(WORKER_ERROR_LOCKED), "locked");
        assert_int_equal(worker_request_format(WORKER_COMMAND_SET_DEFAULT, worker_set_default_args_new(hex),
                                               NULL, &text, &e),
                         0);
        assert_int_equal(worker_request_parse(text, strlen(text), &cmd, &req, &e), 0);
        assert_int_equal(cmd, WORKER_COMMAND_SET_DEFAULT);
        assert_int_equal(worker_set_default_checksum(req, &checksum, &e), 0);
        assert_string_equal(checksum, hex);

        static const char *const bad[] = {
                "{\"command\":\"set-default\"}",
                "{\"command\":\"set-default\",\"checksum\":1}",
                "{\"command\":\"set-default\",\"checksum\":\"\"}",
                "{\"command\":\"set-default\",\"checksum\":\"0123456789abcdef\"}",
                /* upper case, one digit too many, one too few, not hex */
                "{\"command\":\"set-default\",\"checksum\":"
                "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
                "{\"command\":\"set-default\",\"checksum\":"
                "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"}",
                "{\"command\":\"set-default\",\"checksum\":"
                "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"}",
                "{\"command\":\"set-default\",\"checksum\":"
                "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_json_ json_t *r = NULL;
                checksum = NULL;
                assert_int_equal(worker_request_parse(bad[i], strlen(bad[i]), &cmd, &r, &e), 0);
                assert_int_equal(worker_set_default_checksum(r, &checksum, &e), -EINVAL);
                assert_null(checksum);
                assert_non_null(strstr(e.message, "checksum"));
        }
}

static void test_set_default_result(void **state)
{
        static const char line[] = "{\"ok\":true,\"changed\":true,\"dropped_staged\":\"aa\"}";
        _cleanup_json_ json_t *same =
                json_loads("{\"ok\":true,\"changed\":false,\"kept_staged\":\"bb\"}", 0, NULL);
        _cleanup_json_ json_t *odd = json_loads("{\"ok\":true,\"changed\":1,\"dropped_staged\":3}", 0, NULL);
        _cleanup_json_ json_t *res = NULL;
        _cleanup_free_ char *out = NULL;
        WorkerSetDefaultResult r;
        WorkerProgress p;
        Error e = {};

        assert_int_equal(worker_line_parse(line, strlen(line), &p, &res, &e), 1);
        worker_set_default_result_parse(res, &r);
        assert_true(r.changed);
        assert_string_equal(r.dropped_staged, "aa");
        assert_null(r.kept_staged);
        worker_set_default_result_parse(same, &r);
        assert_false(r.changed);
        assert_null(r.dropped_staged);
        assert_string_equal(r.kept_staged, "bb");
        worker_set_default_result_parse(odd, &r);
        assert_false(r.changed);
        assert_null(r.dropped_staged);

        /* the worker's failure line for a missing deployment reads back with its kind */
        {
                _cleanup_json_ json_t *f = NULL;
                WorkerErrorKind kind;
                assert_int_equal(worker_failure_format(-ENOENT, WORKER_ERROR_NO_DEPLOYMENT, "no such", &out),
                                 0);
                assert_int_equal(worker_line_parse(out, strlen(out) - 1, &p, &f, &e), 1);
                assert_int_equal(worker_result_check(f, &kind, &e), -ENOENT);
                assert_int_equal(kind, WORKER_ERROR_NO_DEPLOYMENT);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_request_roundtrip),
                cmocka_unit_test(test_request_no_args),
                cmocka_unit_test(test_request_bad),
                cmocka_unit_test(test_request_too_big),
                cmocka_unit_test(test_progress_line),
                cmocka_unit_test(test_success_line),
                cmocka_unit_test(test_failure_line),
                cmocka_unit_test(test_result_check),
                cmocka_unit_test(test_bad_lines),
                cmocka_unit_test(test_progress_defaults),
                cmocka_unit_test(test_check_result),
                cmocka_unit_test(test_check_result_odd),
                cmocka_unit_test(test_lock_result),
                cmocka_unit_test(test_lock_token),
                cmocka_unit_test(test_set_default_request),
                cmocka_unit_test(test_report_request),
                cmocka_unit_test(test_set_default_result),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

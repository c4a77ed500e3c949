/* test-etcd-json.c — the etcd v3 JSON gateway codec (etcd-json.c): answers captured from etcd 3.4.23
 * (range, txn), malformed and hostile answers, etcd's error objects, and the request bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lock/assert-aborts.h"
#include "buf.h"
#include "etcd-json.h"
#include "macros.h"

/* ---- etcd-json: answers captured from etcd 3.4.23 ---- */

#define KEY "com.coreos.airlock/groups/default/v1/semaphore"
#define KEY_B64 "Y29tLmNvcmVvcy5haXJsb2NrL2dyb3Vwcy9kZWZhdWx0L3YxL3NlbWFwaG9yZQ=="
#define HDR(rev)                                                                                            \
        "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","          \
        "\"revision\":\"" rev "\",\"raft_term\":\"2\"}"

static const char range_hit[] =
        "{" HDR("9") ",\"kvs\":[{\"key\":\"" KEY_B64 "\",\"create_revision\":\"8\","
                     "\"mod_revision\":\"9\",\"version\":\"2\",\"value\":\"YmFy\"}],\"count\":\"1\"}";
static const char range_miss[] = "{" HDR("7") "}";
static const char txn_success[] = "{" HDR(
        "9") ",\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"9\"}}}]}";
static const char txn_failure[] =
        "{" HDR("8") ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"8\"},\"kvs\":[{"
                     "\"key\":\"" KEY_B64 "\",\"create_revision\":\"8\",\"mod_revision\":\"8\",\"version\":"
                     "\"1\",\"value\":\"eyJ0b3RhbF9zbG90cyI6MiwiaG9sZGVycyI6W119\"}],"
                     "\"count\":\"1\"}}]}";
static const char txn_failure_absent[] =
        "{" HDR("9") ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"9\"}}}]}";

static void test_json_range(void **state)
{
        EtcdKv kv = {};
        Error e;

        assert_int_equal(etcd_json_parse_range(range_hit, strlen(range_hit), KEY, &kv, &e), 0);
        assert_int_equal(kv.create_revision, 8);
        assert_int_equal(kv.mod_revision, 9);
        assert_int_equal(kv.version, 2);
        assert_int_equal(kv.value_len, 3);
        assert_string_equal(kv.value, "bar");
        etcd_kv_done(&kv);
        assert_int_equal(etcd_json_parse_range(range_hit, strlen(range_hit), NULL, &kv, &e), 0);
        etcd_kv_done(&kv);
        /* the answer is about another key */
        assert_int_equal(etcd_json_parse_range(range_hit, strlen(range_hit), "other", &kv, &e), -EPROTO);
        assert_non_null(strstr(e.message, "another key"));
        assert_int_equal(etcd_json_parse_range(range_miss, strlen(range_miss), KEY, &kv, &e), -ENOENT);
}

static void test_json_txn(void **state)
{
        EtcdTxnResult t = {};
        Error e;

        assert_int_equal(etcd_json_parse_txn(txn_success, strlen(txn_success), KEY, &t, &e), 0);
        assert_true(t.succeeded);
        assert_true(t.found);
        assert_int_equal(t.revision, 9);
        assert_int_equal(t.kv.mod_revision, 9);
        assert_int_equal(t.kv.version, 0);
        assert_null(t.kv.value);
        etcd_txn_result_done(&t);

        assert_int_equal(etcd_json_parse_txn(txn_failure, strlen(txn_failure), KEY, &t, &e), 0);
        assert_false(t.succeeded);
        assert_true(t.found);
        assert_int_equal(t.kv.mod_revision, 8);
        assert_int_equal(t.kv.version, 1);
        assert_string_equal(t.kv.value, "{\"total_slots\":2,\"holders\":[]}");
        etcd_txn_result_done(&t);

        assert_int_equal(etcd_json_parse_txn(txn_failure_absent, strlen(txn_failure_absent), KEY, &t, &e),
                         0);
        assert_false(t.succeeded);
        assert_false(t.found);
        assert_null(t.kv.value);
        etcd_txn_result_done(&t);
}

static void test_json_garbage(void **state)
{
        static const char *const range_bad[] = {
                "",
                "null",
                "[]",
                "{}",              /* no header */
                "{\"header\":{}}", /* no revision */
                "{\"header\":{\"revision\":\"x\"}}",
                "{\"header\":{\"revision\":\"-1\"}}",
                "{\"header\":{\"revision\":\" 1\"}}",
                "{\"header\":{\"revision\":\"+1\"}}",
                "{\"header\":{\"revision\":\"99999999999999999999\"}}",
                "{\"header\":{\"revision\":1.5}}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":{}}",
                "{\"header\":{\"revision\":\"1\"},\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"1\","
                "\"mod_revision\":\"1\",\"version\":\"1\"},{\"key\":\"Zm9v\",\"create_revision\":\"1\","
                "\"mod_revision\":\"1\",\"version\":\"1\"}],\"count\":\"2\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"1\","
                "\"mod_revision\":\"1\",\"version\":\"1\",\"value\":\"!!\"}],\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"1\","
                "\"version\":\"1\"}],\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
                "\"mod_revision\":\"1\",\"version\":\"1\"}],\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"1\","
                "\"mod_revision\":\"1\",\"version\":\"0\"}],\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"kvs\":[7],\"count\":\"1\"}",
                "{\"header\":{\"revision\":\"1\"},\"header\":{\"revision\":\"1\"}}", /* duplicate key */
                "{\"header\":{\"revision\":\"1\"}} x",
        };
        static const char *const txn_bad[] = {
                "{\"header\":{\"revision\":\"1\"},\"succeeded\":true,\"responses\":[]}",
                "{\"header\":{\"revision\":\"1\"},\"succeeded\":\"yes\"}",
                "{\"header\":{\"revision\":\"1\"}}",
                "{\"header\":{\"revision\":\"1\"},\"responses\":[{\"response_put\":{\"header\":{"
                "\"revision\":\"1\"}}}]}",
                "{\"header\":{\"revision\":\"2\"},\"succeeded\":true,\"responses\":[{\"response_put\":{"
                "\"header\":{\"revision\":\"1\"}}}]}",
                "{\"header\":{\"revision\":\"2\"},\"succeeded\":true,\"responses\":[{\"response_range\":{"
                "\"header\":{\"revision\":\"2\"}}}]}",
                "{\"header\":{\"revision\":\"1\"},\"responses\":[{\"response_range\":{}}]}",
                "{\"header\":{\"revision\":\"1\"},\"responses\":[{\"response_range\":{\"header\":{"
                "\"revision\":\"1\"}},"
                "\"x\":1}]}",
                "{\"header\":{\"revision\":\"1\"},\"succeeded\":true,\"responses\":[{\"response_put\":{"
                "\"header\":"
                "{\"revision\":\"1\"}}},{\"response_range\":{\"header\":{\"revision\":\"1\"}}}]}",
        };
        EtcdTxnResult t;
        EtcdStatus s;
        EtcdKv kv;
        int64_t rev;
        Error e;

        for (size_t i = 0; i < ELEMENTSOF(range_bad); i++) {
                e.message[0] = 0;
                assert_int_equal(etcd_json_parse_range(range_bad[i], strlen(range_bad[i]), "foo", &kv, &e),
                                 -EPROTO);
                assert_true(strlen(e.message) > 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(txn_bad); i++)
                assert_int_equal(etcd_json_parse_txn(txn_bad[i], strlen(txn_bad[i]), "foo", &t, &e),
                                 -EPROTO);
        assert_int_equal(etcd_json_parse_put("{}", 2, &rev, &e), -EPROTO);
        assert_non_null(strstr(e.message, "header"));
        assert_int_equal(
                etcd_json_parse_status("{\"header\":{\"revision\":\"1\"},\"version\":5}", 39, &s, &e),
                -EPROTO);
        assert_non_null(strstr(e.message, "version"));
}

static void test_json_error(void **state)
{
        static const char b[] =
                "{\"error\":\"etcdserver: key is not provided\",\"message\":\"etcdserver: key is "
                "not provided\",\"code\":3}";
        static const char u[] = "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\","
                                "\"code\":14}";
        int code;
        Error e;

        assert_int_equal(etcd_json_parse_error(400, b, strlen(b), &code, &e), -EINVAL);
        assert_int_equal(code, 3);
        assert_non_null(strstr(e.message, "key is not provided"));
        assert_int_equal(etcd_json_parse_error(503, u, strlen(u), &code, &e), -EIO);
        assert_int_equal(code, ETCD_GRPC_UNAVAILABLE);
        assert_int_equal(etcd_json_parse_error(404, "Not Found\n", 10, &code, &e), -EPROTO);
        assert_int_equal(code, -1);
        assert_non_null(strstr(e.message, "404"));
        assert_int_equal(etcd_json_parse_error(500, NULL, 0, &code, &e), -EPROTO);
        assert_int_equal(etcd_json_parse_error(400, "{\"code\":\"3\"}", 12, &code, &e), -EPROTO);
}

static void test_json_requests(void **state)
{
        Buf b = BUF_INIT(1024);

        assert_int_equal(etcd_json_range_request(&b, "foo"), 0);
        assert_string_equal(b.data, "{\"key\":\"Zm9v\"}");
        buf_truncate(&b, 0);
        assert_int_equal(etcd_json_put_request(&b, "foo", "", 0), 0);
        assert_string_equal(b.data, "{\"key\":\"Zm9v\",\"value\":\"\"}");
        buf_truncate(&b, 0);
        assert_int_equal(etcd_json_txn_put_if_request(&b, "foo", ETCD_COMPARE_VERSION, 0, "bar", 3), 0);
        assert_string_equal(b.data,
                            "{\"compare\":[{\"target\":\"VERSION\",\"key\":\"Zm9v\",\"result\":\"EQUAL\","
                            "\"version\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":"
                            "\"YmFy\"}}],"
                            "\"failure\":[{\"request_range\":{\"key\":\"Zm9v\"}}]}");
        buf_truncate(&b, 0);
        assert_int_equal(etcd_json_txn_put_if_request(&b, "foo", ETCD_COMPARE_MOD, 42, "bar", 3), 0);
        assert_non_null(strstr(b.data, "\"target\":\"MOD\""));
        assert_non_null(strstr(b.data, "\"mod_revision\":\"42\""));
        buf_truncate(&b, 0);
        assert_int_equal(etcd_json_txn_put_if_request(&b, "foo", ETCD_COMPARE_MOD, -1, "bar", 3), -EINVAL);
        assert_int_equal(etcd_json_range_request(&b, ""), -EINVAL);
        assert_int_equal(etcd_json_put_request(&b, "foo", "x", ETCD_VALUE_MAX + 1), -EMSGSIZE);
        buf_free(&b);
}

/* NULLs the contract forbids abort; bad input does not. */
static void test_json_contract(void **state)
{
        Buf b = BUF_INIT(1024);
        EtcdTxnResult t;
        EtcdStatus st;
        EtcdKv kv;
        Error e;

        assert_aborts(etcd_json_put_request(&b, "foo", NULL, 3));
        assert_aborts(etcd_json_txn_put_if_request(&b, "foo", ETCD_COMPARE_MOD, 1, NULL, 3));
        assert_aborts(etcd_json_range_request(&b, NULL));
        assert_aborts(etcd_json_parse_range("{}", 2, "k", NULL, &e));
        assert_aborts(etcd_json_parse_txn("{}", 2, "k", NULL, &e));
        assert_aborts(etcd_json_parse_status("{}", 2, NULL, &e));
        /* an empty value needs no pointer; garbage is an error, not an abort */
        assert_int_equal(etcd_json_put_request(&b, "foo", NULL, 0), 0);
        assert_int_equal(etcd_json_parse_range("{}", 2, "k", &kv, &e), -EPROTO);
        assert_int_equal(etcd_json_parse_txn("[]", 2, "k", &t, &e), -EPROTO);
        assert_int_equal(etcd_json_parse_status("", 0, &st, &e), -EPROTO);
        buf_free(&b);
}

/* ---- several keys: transactions over two keys, ranges ---- */

static void test_json_txn_all(void **state)
{
        static const char ok[] = "{" HDR("12") ",\"succeeded\":true,\"responses\":["
                                               "{\"response_put\":{\"header\":{\"revision\":\"12\"}}},"
                                               "{\"response_put\":{\"header\":{\"revision\":\"12\"}}}]}";
        static const char failed[] = "{" HDR(
                "11") ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"11\"}}},"
                      "{\"response_range\":{\"header\":{\"revision\":\"11\"},\"kvs\":[{\"key\":\"Yg==\","
                      "\"create_revision\":\"3\",\"mod_revision\":\"10\",\"version\":\"4\","
                      "\"value\":\"Nw==\"}],\"count\":\"1\"}}]}";
        static const char one_response[] =
                "{" HDR("12") ",\"succeeded\":true,\"responses\":["
                              "{\"response_put\":{\"header\":{\"revision\":\"12\"}}}]}";
        static const char other_key[] = "{" HDR(
                "11") ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"11\"}}},"
                      "{\"response_range\":{\"header\":{\"revision\":\"11\"},\"kvs\":[{\"key\":\"YQ==\","
                      "\"create_revision\":\"3\",\"mod_revision\":\"10\",\"version\":\"4\"}],"
                      "\"count\":\"1\"}}]}";
        static const char future[] = "{" HDR(
                "9") ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"9\"}}},"
                     "{\"response_range\":{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"Yg==\","
                     "\"create_revision\":\"3\",\"mod_revision\":\"10\",\"version\":\"4\"}],"
                     "\"count\":\"1\"}}]}";
        const EtcdTxnOp ops[2] = {
                { .key = "a", .cmp = ETCD_COMPARE_VERSION, .value = "r", .len = 1 },
                { .key = "b",
                  .cmp = ETCD_COMPARE_VALUE,
                  .expected_value = "6",
                  .expected_len = 1,
                  .value = "7",
                  .len = 1 },
        };
        EtcdKv now[2] = {};
        bool succeeded = false;
        Buf b = BUF_INIT(4096);
        Error e;

        assert_int_equal(etcd_json_txn_request(&b, ops, 2), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_string_equal(b.data,
                            "{\"compare\":[{\"target\":\"VERSION\",\"key\":\"YQ==\",\"result\":\"EQUAL\","
                            "\"version\":\"0\"},{\"target\":\"VALUE\",\"key\":\"Yg==\",\"result\":"
                            "\"EQUAL\",\"value\":\"Ng==\"}],\"success\":[{\"request_put\":{\"key\":"
                            "\"YQ==\",\"value\":\"cg==\"}},{\"request_put\":{\"key\":\"Yg==\",\"value\":"
                            "\"Nw==\"}}],\"failure\":[{\"request_range\":{\"key\":\"YQ==\"}},"
                            "{\"request_range\":{\"key\":\"Yg==\"}}]}");
        buf_free(&b);
        assert_int_equal(etcd_json_txn_request(&b, ops, 0), -EINVAL);
        assert_int_equal(etcd_json_txn_request(&b, ops, ETCD_TXN_OPS_MAX + 1), -EINVAL);
        assert_int_equal(etcd_json_txn_request(&b, (EtcdTxnOp[]){ { .key = "" } }, 1), -EINVAL);
        buf_free(&b);

        assert_int_equal(etcd_json_parse_txn_all(ok, strlen(ok), ops, 2, &succeeded, now, &e), 0);
        assert_true(succeeded);
        assert_int_equal(etcd_json_parse_txn_all(failed, strlen(failed), ops, 2, &succeeded, now, &e), 0);
        assert_false(succeeded);
        assert_int_equal(now[0].version, 0);
        assert_null(now[0].value);
        assert_int_equal(now[1].version, 4);
        assert_int_equal(now[1].mod_revision, 10);
        assert_string_equal(now[1].value, "7");
        etcd_kv_done(&now[0]);
        etcd_kv_done(&now[1]);
        assert_int_equal(
                etcd_json_parse_txn_all(one_response, strlen(one_response), ops, 2, &succeeded, now, &e),
                -EPROTO);
        assert_non_null(strstr(e.message, "1 responses, expected 2"));
        assert_int_equal(etcd_json_parse_txn_all(other_key, strlen(other_key), ops, 2, &succeeded, now, &e),
                         -EPROTO);
        assert_non_null(strstr(e.message, "another key"));
        assert_int_equal(etcd_json_parse_txn_all(future, strlen(future), ops, 2, &succeeded, now, &e),
                         -EPROTO);
        assert_int_equal(etcd_json_parse_txn_all("[]", 2, ops, 2, &succeeded, now, &e), -EPROTO);
}

static void test_json_range_list(void **state)
{
        /* "p/a" and "p/b" in ["p/", "p0") */
        static const char two[] =
                "{" HDR("5") ",\"kvs\":[{\"key\":\"cC9h\",\"create_revision\":\"2\","
                             "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"MQ==\"},{\"key\":"
                             "\"cC9i\",\"create_revision\":\"3\",\"mod_revision\":\"5\",\"version\":\"2\"}],"
                             "\"count\":\"3\",\"more\":true}";
        static const char empty[] = "{" HDR("5") "}";
        static const char outside[] =
                "{" HDR("5") ",\"kvs\":[{\"key\":\"cTA=\",\"create_revision\":\"2\","
                             "\"mod_revision\":\"2\",\"version\":\"1\"}],\"count\":\"1\"}";
        static const char unordered[] =
                "{" HDR("5") ",\"kvs\":[{\"key\":\"cC9i\",\"create_revision\":\"2\","
                             "\"mod_revision\":\"2\",\"version\":\"1\"},{\"key\":\"cC9h\","
                             "\"create_revision\":\"3\",\"mod_revision\":\"5\",\"version\":\"2\"}],"
                             "\"count\":\"2\"}";
        static const char nul_key[] =
                "{" HDR("5") ",\"kvs\":[{\"key\":\"cC8AYQ==\",\"create_revision\":\"2\","
                             "\"mod_revision\":\"2\",\"version\":\"1\"}],\"count\":\"1\"}";
        static const char miscounted[] =
                "{" HDR("5") ",\"kvs\":[{\"key\":\"cC9h\",\"create_revision\":\"2\","
                             "\"mod_revision\":\"2\",\"version\":\"1\"}],\"count\":\"2\"}";
        EtcdKeyValue *l = NULL;
        Buf b = BUF_INIT(4096);
        bool more = false;
        size_t n = 9;
        Error e;

        assert_int_equal(etcd_json_range_from_request(&b, "p/", "p0", 256), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_string_equal(b.data, "{\"key\":\"cC8=\",\"range_end\":\"cDA=\",\"limit\":\"256\"}");
        buf_free(&b);
        assert_int_equal(etcd_json_range_from_request(&b, "p0", "p/", 1), -EINVAL);
        assert_int_equal(etcd_json_range_from_request(&b, "p/", "p0", 0), -EINVAL);
        assert_int_equal(etcd_json_range_from_request(&b, "p/", "p0", ETCD_RANGE_LIMIT_MAX + 1), -EINVAL);
        buf_free(&b);

        assert_int_equal(etcd_json_parse_range_list(two, strlen(two), "p/", "p0", 2, &l, &n, &more, &e), 0);
        assert_int_equal(n, 2);
        assert_true(more);
        assert_string_equal(l[0].key, "p/a");
        assert_string_equal(l[0].kv.value, "1");
        assert_string_equal(l[1].key, "p/b");
        assert_int_equal(l[1].kv.mod_revision, 5);
        etcd_key_values_free(l, n);
        /* more kvs than the limit asked for */
        assert_int_equal(etcd_json_parse_range_list(two, strlen(two), "p/", "p0", 1, &l, &n, &more, &e),
                         -EPROTO);
        assert_int_equal(etcd_json_parse_range_list(empty, strlen(empty), "p/", "p0", 5, &l, &n, &more, &e),
                         0);
        assert_int_equal(n, 0);
        assert_null(l);
        assert_false(more);
        const char *bad[] = { outside, unordered, nul_key, miscounted, "{}", "[1]" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(
                        etcd_json_parse_range_list(bad[i], strlen(bad[i]), "p/", "p0", 5, &l, &n, &more, &e),
                        -EPROTO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_range),    cmocka_unit_test(test_json_txn),
                cmocka_unit_test(test_json_garbage),  cmocka_unit_test(test_json_error),
                cmocka_unit_test(test_json_requests), cmocka_unit_test(test_json_contract),
                cmocka_unit_test(test_json_txn_all),  cmocka_unit_test(test_json_range_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

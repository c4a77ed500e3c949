/* etcd-json.c — request bodies for and strict parsing of etcd's v3 JSON gateway (see etcd-json.h). */
#include "etcd-json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base64.h"
#include "json-util.h"
#include "macros.h"
#include "strutil.h"

void etcd_kv_done(EtcdKv *kv)
{
        if (!kv)
                return;
        free(kv->value);
        *kv = (EtcdKv){};
}

void etcd_txn_result_done(EtcdTxnResult *t)
{
        if (!t)
                return;
        etcd_kv_done(&t->kv);
        *t = (EtcdTxnResult){};
}

static void etcd_kv_donep(EtcdKv *kv)
{
        etcd_kv_done(kv);
}

/* ---- requests ---- */

static int check_key(const char *key)
{
        size_t n;

        assert(key);
        n = strlen(key);
        if (n == 0 || n > ETCD_KEY_MAX)
                return -EINVAL;
        return 0;
}

/* Appends "name":"<base64>" */
static int put_b64_member(Buf *b, const char *name, const void *p, size_t n)
{
        int r = buf_printf(b, "\"%s\":\"", name);
        if (r < 0)
                return r;
        r = base64_append(b, p, n);
        if (r < 0)
                return r;
        return buf_putc(b, '"');
}

static int put_key_object(Buf *b, const char *key, const char *extra)
{
        int r = buf_putc(b, '{');
        if (r >= 0)
                r = put_b64_member(b, "key", key, strlen(key));
        if (r >= 0 && extra)
                r = buf_puts(b, extra);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

int etcd_json_range_request(Buf *b, const char *key)
{
        if (check_key(key) < 0)
                return -EINVAL;
        return put_key_object(b, key, NULL);
}

int etcd_json_delete_request(Buf *b, const char *key)
{
        return etcd_json_range_request(b, key);
}

int etcd_json_put_request(Buf *b, const char *key, const void *value, size_t len)
{
        int r;

        assert(b);
        assert(value || len == 0);
        if (check_key(key) < 0)
                return -EINVAL;
        if (len > ETCD_VALUE_MAX)
                return -EMSGSIZE;
        r = buf_putc(b, '{');
        if (r >= 0)
                r = put_b64_member(b, "key", key, strlen(key));
        if (r >= 0)
                r = buf_putc(b, ',');
        if (r >= 0)
                r = put_b64_member(b, "value", value, len);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

/* Appends one compare of a transaction. */
static int put_compare(Buf *b, const EtcdTxnOp *op)
{
        static const char *const targets[] = { "VERSION", "MOD", "VALUE" };
        int r = buf_printf(b, "{\"target\":\"%s\",", targets[op->cmp]);

        if (r >= 0)
                r = put_b64_member(b, "key", op->key, strlen(op->key));
        if (r >= 0 && op->cmp == ETCD_COMPARE_VALUE)
                r = buf_puts(b, ",\"result\":\"EQUAL\",");
        if (r >= 0 && op->cmp == ETCD_COMPARE_VALUE)
                r = put_b64_member(b, "value", op->expected_value, op->expected_len);
        else if (r >= 0)
                r = buf_printf(b, ",\"result\":\"EQUAL\",\"%s\":\"%" PRIi64 "\"",
                               op->cmp == ETCD_COMPARE_VERSION ? "version" : "mod_revision", op->expected);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

static int check_op(const EtcdTxnOp *op)
{
        assert(op->value || op->len == 0);
        if (check_key(op->key) < 0 || op->expected < 0 || (unsigned)op->cmp > ETCD_COMPARE_VALUE)
                return -EINVAL;
        if (op->cmp == ETCD_COMPARE_VALUE && !op->expected_value && op->expected_len > 0)
                return -EINVAL;
        if (op->len > ETCD_VALUE_MAX || op->expected_len > ETCD_VALUE_MAX)
                return -EMSGSIZE;
        return 0;
}

int etcd_json_txn_request(Buf *b, const EtcdTxnOp *ops, size_t n)
{
        int r;

        assert(b && (ops || n == 0));
        if (n == 0 || n > ETCD_TXN_OPS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if ((r = check_op(&ops[i])) < 0)
                        return r;
        r = buf_puts(b, "{\"compare\":[");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = i ? buf_putc(b, ',') : 0;
                if (r >= 0)
                        r = put_compare(b, &ops[i]);
        }
        if (r >= 0)
                r = buf_puts(b, "],\"success\":[");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = buf_puts(b, i ? ",{\"request_put\":" : "{\"request_put\":");
                if (r >= 0)
                        r = etcd_json_put_request(b, ops[i].key, ops[i].value, ops[i].len);
                if (r >= 0)
                        r = buf_putc(b, '}');
        }
        if (r >= 0)
                r = buf_puts(b, "],\"failure\":[");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = buf_puts(b, i ? ",{\"request_range\":" : "{\"request_range\":");
                if (r >= 0)
                        r = put_key_object(b, ops[i].key, NULL);
                if (r >= 0)
                        r = buf_putc(b, '}');
        }
        if (r >= 0)
                r = buf_puts(b, "]}");
        return r;
}

int etcd_json_txn_put_if_request(Buf *b, const char *key, EtcdCompare cmp, int64_t expected,
                                 const void *value, size_t len)
{
        const EtcdTxnOp op = { .key = key, .cmp = cmp, .expected = expected, .value = value, .len = len };

        assert(b);
        if (cmp != ETCD_COMPARE_VERSION && cmp != ETCD_COMPARE_MOD)
                return -EINVAL;
        return etcd_json_txn_request(b, &op, 1);
}

int etcd_json_range_from_request(Buf *b, const char *from, const char *end, int64_t limit)
{
        int r;

        assert(b && end);
        if (check_key(from) < 0 || check_key(end) < 0 || strcmp(from, end) >= 0 || limit < 1 ||
            limit > ETCD_RANGE_LIMIT_MAX)
                return -EINVAL;
        r = buf_putc(b, '{');
        if (r >= 0)
                r = put_b64_member(b, "key", from, strlen(from));
        if (r >= 0)
                r = buf_putc(b, ',');
        if (r >= 0)
                r = put_b64_member(b, "range_end", end, strlen(end));
        if (r >= 0)
                r = buf_printf(b, ",\"limit\":\"%" PRIi64 "\"}", limit);
        return r;
}

/* ---- responses ---- */

/* Whether a JSON string is 1 to 20 decimal digits (no sign, no spaces, no NUL). */
static bool all_digits(const json_t *v)
{
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);

        if (n == 0 || n > 20)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* An int64 field: a string of decimal digits (what the gateway sends) or a JSON integer, within
 * [0, INT64_MAX]. Absent = 0 (proto3 JSON omits zero values) unless required. */
static int member_int64(const json_t *obj, const char *key, bool required, const char *what, int64_t *ret,
                        Error *e)
{
        json_t *v = json_object_get(obj, key);
        int64_t n;

        if (!v) {
                if (required)
                        return error_setf(e, -EPROTO, "%s: missing field '%s'", what, key);
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                n = (int64_t)json_integer_value(v);
                if (n < 0)
                        return error_setf(e, -EPROTO, "%s: field '%s' is negative", what, key);
                *ret = n;
                return 0;
        }
        if (!json_is_string(v))
                return error_setf(e, -EPROTO, "%s: field '%s' must be an integer string, got %s", what, key,
                                  json_type_name(v));
        if (!all_digits(v) || safe_atoi64(json_string_value(v), &n) < 0)
                return error_setf(e, -EPROTO, "%s: field '%s' is not a non-negative 64-bit integer", what,
                                  key);
        *ret = n;
        return 0;
}

static int member_uint64(const json_t *obj, const char *key, const char *what, uint64_t *ret, Error *e)
{
        json_t *v = json_object_get(obj, key);
        uint64_t n;

        if (!v) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
                *ret = (uint64_t)json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v) || !all_digits(v) || safe_atou64(json_string_value(v), &n) < 0)
                return error_setf(e, -EPROTO, "%s: field '%s' is not an unsigned integer", what, key);
        *ret = n;
        return 0;
}

static int member_object(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                         Error *e)
{
        json_t *v = json_object_get(obj, key);

        if (!v) {
                if (required)
                        return error_setf(e, -EPROTO, "%s: missing field '%s'", what, key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_object(v))
                return error_setf(e, -EPROTO, "%s: field '%s' must be an object, got %s", what, key,
                                  json_type_name(v));
        *ret = v;
        return 0;
}

static int member_array(const json_t *obj, const char *key, const char *what, json_t **ret, Error *e)
{
        json_t *v = json_object_get(obj, key);

        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(v))
                return error_setf(e, -EPROTO, "%s: field '%s' must be an array, got %s", what, key,
                                  json_type_name(v));
        *ret = v;
        return 0;
}

/* An optional boolean (json_member_bool()); absent = false. */
static int member_bool(const json_t *obj, const char *key, const char *what, bool *ret, Error *e)
{
        int r = json_member_bool(obj, key, false, what, ret, e);

        if (r == -ENOENT) {
                *ret = false;
                return 0;
        }
        return r == -EINVAL ? -EPROTO : r;
}

/* A base64 string field, decoded; absent = empty unless required. */
static int member_b64(const json_t *obj, const char *key, bool required, const char *what, size_t max,
                      char **ret, size_t *ret_len, Error *e)
{
        json_t *v = json_object_get(obj, key);
        void *data = NULL;
        size_t n = 0;
        int r;

        if (!v) {
                if (required)
                        return error_setf(e, -EPROTO, "%s: missing field '%s'", what, key);
                data = calloc(1, 1);
                if (!data)
                        return error_setf(e, -ENOMEM, "%s: out of memory", what);
                *ret = data;
                *ret_len = 0;
                return 0;
        }
        if (!json_is_string(v))
                return error_setf(e, -EPROTO, "%s: field '%s' must be a base64 string, got %s", what, key,
                                  json_type_name(v));
        r = base64_decode(json_string_value(v), json_string_length(v), max, &data, &n);
        if (r == -EFBIG)
                return error_setf(e, -EFBIG, "%s: field '%s' decodes to more than %zu bytes", what, key,
                                  max);
        if (r == -ENOMEM)
                return error_setf(e, -ENOMEM, "%s: out of memory", what);
        if (r < 0)
                return error_setf(e, -EPROTO, "%s: field '%s' is not valid base64", what, key);
        *ret = data;
        *ret_len = n;
        return 0;
}

static int parse_document(const char *body, size_t len, const char *what, json_t **ret, Error *e)
{
        json_t *j = NULL;
        Error je;
        int r;

        if (!body)
                return error_setf(e, -EPROTO, "%s: empty answer", what);
        r = json_parse_strict(body, len, &j, &je);
        if (r < 0)
                return error_setf(e, -EPROTO, "%s: not JSON: %s", what, je.message);
        if (!json_is_object(j)) {
                r = error_setf(e, -EPROTO, "%s: expected an object, got %s", what, json_type_name(j));
                json_decref(j);
                return r;
        }
        *ret = j;
        return 0;
}

/* The mandatory response header: {"revision": N, ...}. */
static int parse_header(const json_t *obj, const char *what, int64_t *ret_revision, Error *e)
{
        json_t *h = NULL; /* set by member_object() on success */
        char w[64];
        int r;

        r = member_object(obj, "header", true, what, &h, e);
        if (r < 0)
                return r;
        snprintf(w, sizeof(w), "%s header", what);
        return member_int64(h, "revision", true, w, ret_revision, e);
}

/* ret_key (optional): the key, which must then hold no NUL byte. */
static int parse_kv(const json_t *kv, const char *key, const char *what, EtcdKv *ret, char **ret_key,
                    Error *e)
{
        _cleanup_(etcd_kv_donep) EtcdKv k = {};
        _cleanup_free_ char *kbytes = NULL;
        size_t klen = 0;
        int r;

        if (!json_is_object(kv))
                return error_setf(e, -EPROTO, "%s: expected an object, got %s", what, json_type_name(kv));
        r = member_b64(kv, "key", true, what, ETCD_KEY_MAX, &kbytes, &klen, e);
        if (r < 0)
                return r == -EFBIG ? -EPROTO : r;
        if (key && (klen != strlen(key) || memcmp(kbytes, key, klen) != 0))
                return error_setf(e, -EPROTO, "%s: answer for another key", what);
        r = member_int64(kv, "create_revision", true, what, &k.create_revision, e);
        if (r >= 0)
                r = member_int64(kv, "mod_revision", true, what, &k.mod_revision, e);
        if (r >= 0)
                r = member_int64(kv, "version", true, what, &k.version, e);
        if (r < 0)
                return r;
        if (k.version <= 0 || k.create_revision <= 0 || k.mod_revision < k.create_revision)
                return error_setf(e, -EPROTO,
                                  "%s: inconsistent revisions (create %" PRIi64 ", mod %" PRIi64
                                  ", version %" PRIi64 ")",
                                  what, k.create_revision, k.mod_revision, k.version);
        if (ret_key && memchr(kbytes, 0, klen))
                return error_setf(e, -EPROTO, "%s: a key with a NUL byte", what);
        r = member_b64(kv, "value", false, what, ETCD_VALUE_MAX, &k.value, &k.value_len, e);
        if (r < 0)
                return r;
        if (ret_key)
                *ret_key = TAKE_PTR(kbytes);
        *ret = k;
        k = (EtcdKv){};
        return 0;
}

/* A RangeResponse for one key: 1 and *ret when found, 0 when the range is empty. */
static int parse_range_object(const json_t *obj, const char *key, const char *what, EtcdKv *ret, Error *e)
{
        json_t *kvs = NULL;
        int64_t count = 0, rev;
        char w[96];
        int r;

        r = parse_header(obj, what, &rev, e);
        if (r < 0)
                return r;
        r = member_array(obj, "kvs", what, &kvs, e);
        if (r < 0)
                return r;
        r = member_int64(obj, "count", false, what, &count, e);
        if (r < 0)
                return r;
        r = member_bool(obj, "more", what, &(bool){ false }, e);
        if (r < 0)
                return r;
        if (!kvs || json_array_size(kvs) == 0) {
                if (count != 0)
                        return error_setf(e, -EPROTO, "%s: count %" PRIi64 " but no kvs", what, count);
                return 0;
        }
        if (json_array_size(kvs) != 1 || count != 1)
                return error_setf(e, -EPROTO, "%s: %zu kvs (count %" PRIi64 ") for a one-key range", what,
                                  json_array_size(kvs), count);
        snprintf(w, sizeof(w), "%s kvs[0]", what);
        r = parse_kv(json_array_get(kvs, 0), key, w, ret, NULL, e);
        if (r < 0)
                return r;
        return 1;
}

int etcd_json_parse_range(const char *body, size_t len, const char *key, EtcdKv *ret, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        EtcdKv kv = {};
        int r;

        assert(ret);
        r = parse_document(body, len, "range answer", &j, e);
        if (r < 0)
                return r;
        r = parse_range_object(j, key, "range answer", &kv, e);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret = kv;
        return 0;
}

/* The success branch of etcd_json_parse_txn_all(): one response_put per op, at the txn's revision. */
static int parse_puts(const json_t *responses, size_t n, int64_t revision, Error *e)
{
        for (size_t i = 0; i < n; i++) {
                json_t *item = json_array_get(responses, i), *op = NULL;
                int64_t rev;
                char w[64];
                int r;

                snprintf(w, sizeof(w), "txn answer responses[%zu]", i);
                if (!json_is_object(item) || json_object_size(item) != 1)
                        return error_setf(e, -EPROTO, "%s: expected an object with one member", w);
                r = member_object(item, "response_put", true, w, &op, e);
                if (r >= 0)
                        r = parse_header(op, w, &rev, e);
                if (r < 0)
                        return r;
                if (rev != revision)
                        return error_setf(e, -EPROTO, "%s: revision %" PRIi64 " is not the txn's %" PRIi64,
                                          w, rev, revision);
        }
        return 0;
}

/* etcd_json_parse_txn_all(), and the transaction's revision in *ret_revision. */
static int parse_txn(const char *body, size_t len, const EtcdTxnOp *ops, size_t n, bool *ret_succeeded,
                     EtcdKv *ret, int64_t *ret_revision, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *responses = NULL;
        EtcdKv kvs[ETCD_TXN_OPS_MAX] = {};
        bool succeeded = false;
        int64_t revision;
        int r;

        assert(ops && ret_succeeded && ret && ret_revision);
        if (n == 0 || n > ETCD_TXN_OPS_MAX)
                return error_setf(e, -EINVAL, "txn answer: %zu operations", n);
        r = parse_document(body, len, "txn answer", &j, e);
        if (r >= 0)
                r = parse_header(j, "txn answer", &revision, e);
        if (r >= 0)
                r = member_bool(j, "succeeded", "txn answer", &succeeded, e);
        if (r >= 0)
                r = member_array(j, "responses", "txn answer", &responses, e);
        if (r < 0)
                return r;
        if ((responses ? json_array_size(responses) : 0) != n)
                return error_setf(e, -EPROTO, "txn answer: %zu responses, expected %zu",
                                  responses ? json_array_size(responses) : 0, n);
        if (succeeded) {
                r = parse_puts(responses, n, revision, e);
                if (r >= 0) {
                        *ret_succeeded = true;
                        *ret_revision = revision;
                }
                return r;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_t *item = json_array_get(responses, i), *op = NULL;
                char w[64];

                snprintf(w, sizeof(w), "txn answer responses[%zu]", i);
                if (!json_is_object(item) || json_object_size(item) != 1)
                        r = error_setf(e, -EPROTO, "%s: expected an object with one member", w);
                if (r >= 0)
                        r = member_object(item, "response_range", true, w, &op, e);
                if (r >= 0)
                        r = parse_range_object(op, ops[i].key, w, &kvs[i], e);
                if (r > 0 && kvs[i].mod_revision > revision)
                        r = error_setf(e, -EPROTO, "%s: the key's mod_revision is above the revision", w);
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        etcd_kv_done(&kvs[i]);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                ret[i] = kvs[i];
        *ret_succeeded = false;
        *ret_revision = revision;
        return 0;
}

int etcd_json_parse_txn_all(const char *body, size_t len, const EtcdTxnOp *ops, size_t n,
                            bool *ret_succeeded, EtcdKv *ret, Error *e)
{
        int64_t revision;

        return parse_txn(body, len, ops, n, ret_succeeded, ret, &revision, e);
}

int etcd_json_parse_txn(const char *body, size_t len, const char *key, EtcdTxnResult *ret, Error *e)
{
        const EtcdTxnOp op = { .key = key };
        EtcdTxnResult t = {};
        int r;

        assert(ret);
        r = parse_txn(body, len, &op, 1, &t.succeeded, &t.kv, &t.revision, e);
        if (r < 0)
                return r;
        /* succeeded: the put's revision is the key's; failed: the key as read (version 0 when absent) */
        t.found = t.succeeded || t.kv.version > 0;
        if (t.succeeded)
                t.kv.mod_revision = t.revision;
        *ret = t;
        return 0;
}

void etcd_key_values_free(EtcdKeyValue *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].key);
                etcd_kv_done(&l[i].kv);
        }
        free(l);
}

/* Checks and decodes kvs into l (room for all of them), in ascending key order within [from, end). */
static int parse_kvs(const json_t *kvs, const char *from, const char *end, EtcdKeyValue *l, size_t *n,
                     Error *e)
{
        for (size_t i = 0; i < json_array_size(kvs); i++) {
                char w[64];
                int r;

                snprintf(w, sizeof(w), "range answer kvs[%zu]", i);
                r = parse_kv(json_array_get(kvs, i), NULL, w, &l[i].kv, &l[i].key, e);
                if (r < 0)
                        return r;
                *n = i + 1;
                if (strcmp(l[i].key, from) < 0 || strcmp(l[i].key, end) >= 0)
                        return error_setf(e, -EPROTO, "%s: a key outside the range asked for", w);
                if (i > 0 && strcmp(l[i - 1].key, l[i].key) >= 0)
                        return error_setf(e, -EPROTO, "%s: keys out of order", w);
        }
        return 0;
}

int etcd_json_parse_range_list(const char *body, size_t len, const char *from, const char *end,
                               int64_t limit, EtcdKeyValue **ret, size_t *ret_n, bool *ret_more, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *kvs = NULL;
        EtcdKeyValue *l = NULL;
        int64_t count = 0, rev;
        bool more = false;
        size_t n = 0, k;
        int r;

        assert(from && end && ret && ret_n && ret_more);
        r = parse_document(body, len, "range answer", &j, e);
        if (r >= 0)
                r = parse_header(j, "range answer", &rev, e);
        if (r >= 0)
                r = member_array(j, "kvs", "range answer", &kvs, e);
        if (r >= 0)
                r = member_int64(j, "count", false, "range answer", &count, e);
        if (r >= 0)
                r = member_bool(j, "more", "range answer", &more, e);
        if (r < 0)
                return r;
        k = kvs ? json_array_size(kvs) : 0;
        if ((int64_t)k > limit || (int64_t)k > count || (!more && (int64_t)k != count))
                return error_setf(e, -EPROTO,
                                  "range answer: %zu kvs for count %" PRIi64 " (limit %" PRIi64 ")", k,
                                  count, limit);
        if (k > 0) {
                l = calloc(k, sizeof(EtcdKeyValue));
                if (!l)
                        return error_setf(e, -ENOMEM, "range answer: out of memory");
                r = parse_kvs(kvs, from, end, l, &n, e);
                if (r < 0) {
                        etcd_key_values_free(l, n);
                        return r;
                }
        }
        *ret = l;
        *ret_n = k;
        *ret_more = more;
        return 0;
}

int etcd_json_parse_put(const char *body, size_t len, int64_t *ret_revision, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        int64_t rev;
        int r;

        r = parse_document(body, len, "put answer", &j, e);
        if (r < 0)
                return r;
        r = parse_header(j, "put answer", &rev, e);
        if (r < 0)
                return r;
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

int etcd_json_parse_delete(const char *body, size_t len, int64_t *ret_revision, int64_t *ret_deleted,
                           Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        int64_t rev, deleted;
        int r;

        r = parse_document(body, len, "delete answer", &j, e);
        if (r < 0)
                return r;
        r = parse_header(j, "delete answer", &rev, e);
        if (r >= 0)
                r = member_int64(j, "deleted", false, "delete answer", &deleted, e);
        if (r < 0)
                return r;
        if (ret_revision)
                *ret_revision = rev;
        if (ret_deleted)
                *ret_deleted = deleted;
        return 0;
}

int etcd_json_parse_status(const char *body, size_t len, EtcdStatus *ret, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        EtcdStatus s = {};
        json_t *h = NULL, *v = NULL;
        int r;

        assert(ret);
        r = parse_document(body, len, "status answer", &j, e);
        if (r < 0)
                return r;
        r = parse_header(j, "status answer", &s.revision, e);
        if (r >= 0)
                r = member_object(j, "header", true, "status answer", &h, e);
        if (r >= 0)
                r = member_uint64(h, "member_id", "status answer header", &s.member_id, e);
        if (r >= 0)
                r = member_uint64(j, "leader", "status answer", &s.leader, e);
        if (r >= 0)
                r = member_int64(j, "dbSize", false, "status answer", &s.db_size, e);
        if (r < 0)
                return r;
        v = json_object_get(j, "version");
        if (!v)
                return error_setf(e, -EPROTO, "status answer: missing field 'version'");
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sizeof(s.version) ||
            strlen(json_string_value(v)) != json_string_length(v))
                return error_setf(e, -EPROTO, "status answer: field 'version' is not a short string");
        memcpy(s.version, json_string_value(v), json_string_length(v) + 1);
        *ret = s;
        return 0;
}

static int grpc_code_to_errno(int64_t code)
{
        switch (code) {
        case 1:  /* Canceled */
        case 10: /* Aborted */
                return -ECANCELED;
        case 3: /* InvalidArgument */
                return -EINVAL;
        case 4: /* DeadlineExceeded */
                return -ETIMEDOUT;
        case 5: /* NotFound */
                return -ENOENT;
        case 6: /* AlreadyExists */
                return -EEXIST;
        case 7: /* PermissionDenied */
                return -EPERM;
        case 8: /* ResourceExhausted */
                return -ENOSPC;
        case 9: /* FailedPrecondition */
                return -EBUSY;
        case 11: /* OutOfRange */
                return -ERANGE;
        case 12: /* Unimplemented */
                return -EOPNOTSUPP;
        case 16: /* Unauthenticated */
                return -EACCES;
        default: /* Unknown, Internal, Unavailable, DataLoss, and codes from the future */
                return -EIO;
        }
}

/* Copies at most n bytes of s for a message, replacing control characters and stopping at a NUL. */
static void excerpt(const char *s, size_t len, char *out, size_t n)
{
        size_t i, k = 0;

        for (i = 0; s && i < len && k + 1 < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == 0)
                        break;
                out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        out[k] = 0;
}

int etcd_json_parse_error(long http_status, const char *body, size_t len, int *ret_code, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        const char *msg = NULL;
        int64_t code;
        char ex[80], text[300];
        Error je;
        json_t *v;

        if (ret_code)
                *ret_code = -1;
        if (!body || json_parse_strict(body, len, &j, &je) < 0 || !json_is_object(j)) {
                excerpt(body, len, ex, sizeof(ex));
                return error_setf(e, -EPROTO, "HTTP status %ld, not an etcd error: '%s'", http_status, ex);
        }
        v = json_object_get(j, "code");
        if (!v || !json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000) {
                excerpt(body, len, ex, sizeof(ex));
                return error_setf(e, -EPROTO, "HTTP status %ld, no error code: '%s'", http_status, ex);
        }
        code = json_integer_value(v);
        v = json_object_get(j, "message");
        if (!v || !json_is_string(v))
                v = json_object_get(j, "error");
        if (v && json_is_string(v))
                msg = json_string_value(v);
        if (ret_code)
                *ret_code = (int)code;
        if (code == 0)
                return error_setf(e, -EPROTO, "HTTP status %ld with gRPC code 0", http_status);
        excerpt(msg ? msg : "no message", msg ? strlen(msg) : 10, text, sizeof(text));
        return error_setf(e, grpc_code_to_errno(code), "%s (HTTP %ld, gRPC code %" PRIi64 ")", text,
                          http_status, code);
}

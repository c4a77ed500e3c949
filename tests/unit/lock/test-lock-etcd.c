/* test-lock-etcd.c — upkeep-lock's etcd3 backend (lock-etcd.c) against a fake etcd: a JSON gateway built
 * on the project's HTTP server (src/io/http-server.h) that keeps keys in memory and counts its requests.
 * Airlock's key and value layout, the compare-and-swap (VERSION 0 for a new key, then the cached
 * mod_revision, one round trip per update), a conflicting writer (decided again on the value the failed
 * transaction returns), an unchanged state confirmed once, a refused update, a value that is not a
 * semaphore, a store that is down, and the health check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "etcd.h"
#include "http-server.h"
#include "lock-backend.h"

#define KEY_DEFAULT "com.coreos.airlock/groups/default/v1/semaphore"

typedef struct FakeKey {
        char key[256];
        char value[4096];
        int64_t create_revision, mod_revision, version;
} FakeKey;

typedef enum FakeMode {
        FAKE_OK,
        FAKE_UNAVAILABLE, /* every request: 503, gRPC Unavailable */
        FAKE_NO_LEADER,   /* status answers with leader 0 */
} FakeMode;

typedef struct FakeEtcd {
        pthread_mutex_t lock;
        FakeKey keys[8];
        size_t n_keys;
        int64_t revision;
        FakeMode mode;
        unsigned ranges, txns, statuses;
        HttpServer *server;
        char url[64];
} FakeEtcd;

static FakeKey *fake_find(FakeEtcd *f, const char *key)
{
        for (size_t i = 0; i < f->n_keys; i++)
                if (streq(f->keys[i].key, key))
                        return &f->keys[i];
        return NULL;
}

/* Writes key := value as etcd would (a new revision; version + 1). */
static void fake_put(FakeEtcd *f, const char *key, const char *value)
{
        FakeKey *k = fake_find(f, key);

        if (!k) {
                assert_true(f->n_keys < ELEMENTSOF(f->keys));
                k = &f->keys[f->n_keys++];
                snprintf(k->key, sizeof(k->key), "%s", key);
                k->create_revision = f->revision + 1;
        }
        snprintf(k->value, sizeof(k->value), "%s", value);
        k->mod_revision = ++f->revision;
        k->version++;
}

/* A member's base64 string, decoded (NUL-terminated) into out. */
static void member_decoded(json_t *obj, const char *name, char *out, size_t n)
{
        const char *s = json_string_value(json_object_get(obj, name));
        void *d = NULL;
        size_t len = 0;

        assert_non_null(s);
        assert_int_equal(base64_decode(s, strlen(s), n - 1, &d, &len), 0);
        memcpy(out, d, len);
        out[len] = 0;
        free(d);
}

static int put_b64(Buf *b, const char *name, const char *s)
{
        int r = buf_printf(b, "\"%s\":\"", name);
        if (r >= 0)
                r = base64_append(b, s, strlen(s));
        return r >= 0 ? buf_putc(b, '"') : r;
}

/* ,"kvs":[...],"count":"1" for an existing key. */
static int put_kvs(Buf *b, const FakeKey *k)
{
        int r;

        if (!k)
                return 0;
        r = buf_puts(b, ",\"kvs\":[{");
        if (r >= 0)
                r = put_b64(b, "key", k->key);
        if (r >= 0)
                r = buf_printf(
                        b, ",\"create_revision\":\"%lld\",\"mod_revision\":\"%lld\",\"version\":\"%lld\",",
                        (long long)k->create_revision, (long long)k->mod_revision, (long long)k->version);
        if (r >= 0)
                r = put_b64(b, "value", k->value);
        return r >= 0 ? buf_puts(b, "}],\"count\":\"1\"") : r;
}

static int fake_txn(FakeEtcd *f, json_t *req, Buf *b)
{
        json_t *cmp = json_array_get(json_object_get(req, "compare"), 0);
        json_t *put = json_object_get(json_array_get(json_object_get(req, "success"), 0), "request_put");
        const char *target = json_string_value(json_object_get(cmp, "target"));
        char key[256], value[4096];
        int64_t expected, current;
        FakeKey *k;

        member_decoded(cmp, "key", key, sizeof(key));
        k = fake_find(f, key);
        if (streq(target, "VERSION")) {
                expected = atoll(json_string_value(json_object_get(cmp, "version")));
                current = k ? k->version : 0;
        } else {
                assert_string_equal(target, "MOD");
                expected = atoll(json_string_value(json_object_get(cmp, "mod_revision")));
                current = k ? k->mod_revision : 0;
        }
        f->txns++;
        if (current != expected) {
                int r = buf_printf(b,
                                   "{\"header\":{\"revision\":\"%lld\"},\"responses\":[{\"response_range\":{"
                                   "\"header\":{\"revision\":\"%lld\"}",
                                   (long long)f->revision, (long long)f->revision);
                if (r >= 0)
                        r = put_kvs(b, k);
                return r >= 0 ? buf_puts(b, "}}]}") : r;
        }
        member_decoded(put, "value", value, sizeof(value));
        fake_put(f, key, value);
        return buf_printf(
                b,
                "{\"header\":{\"revision\":\"%lld\"},\"succeeded\":true,\"responses\":[{\"response_put\":"
                "{\"header\":{\"revision\":\"%lld\"}}}]}",
                (long long)f->revision, (long long)f->revision);
}

static int fake_answer(FakeEtcd *f, const HttpRequest *req, json_t *j, Buf *b)
{
        char key[256];
        int r;

        if (streq(req->path, "/v3/kv/range")) {
                f->ranges++;
                member_decoded(j, "key", key, sizeof(key));
                r = buf_printf(b, "{\"header\":{\"revision\":\"%lld\"}", (long long)f->revision);
                if (r >= 0)
                        r = put_kvs(b, fake_find(f, key));
                return r >= 0 ? buf_putc(b, '}') : r;
        }
        if (streq(req->path, "/v3/kv/txn"))
                return fake_txn(f, j, b);
        assert_string_equal(req->path, "/v3/maintenance/status");
        f->statuses++;
        return buf_printf(b,
                          "{\"header\":{\"revision\":\"%lld\",\"member_id\":\"7\"},\"version\":\"3.4.23\","
                          "\"leader\":\"%s\",\"dbSize\":\"20480\"}",
                          (long long)f->revision, f->mode == FAKE_NO_LEADER ? "0" : "7");
}

static int fake_handler(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        FakeEtcd *f = userdata;
        json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
        Buf b = BUF_INIT(1u << 20);
        int r;

        reply->content_type = "application/json";
        pthread_mutex_lock(&f->lock);
        if (f->mode == FAKE_UNAVAILABLE) {
                reply->status = 503;
                r = buf_puts(&b,
                             "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\","
                             "\"code\":14}");
        } else {
                reply->status = 200;
                assert_non_null(j);
                r = fake_answer(f, req, j, &b);
        }
        pthread_mutex_unlock(&f->lock);
        json_decref(j);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->owned = buf_steal(&b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

static FakeEtcd *fake_start(void)
{
        FakeEtcd *f = calloc(1, sizeof(*f));
        HttpServerConfig sc = { .address = "127.0.0.1", .handler = fake_handler };
        Error e = { { 0 } };

        assert_non_null(f);
        pthread_mutex_init(&f->lock, NULL);
        f->revision = 1;
        sc.userdata = f;
        if (http_server_start(&sc, &f->server, &e) < 0)
                fail_msg("http_server_start: %s", e.message);
        snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", http_server_port(f->server));
        return f;
}

static void fake_stop(FakeEtcd *f)
{
        http_server_stop(f->server, 1000);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

static void fake_set_mode(FakeEtcd *f, FakeMode mode)
{
        pthread_mutex_lock(&f->lock);
        f->mode = mode;
        pthread_mutex_unlock(&f->lock);
}

static LockBackend *backend_for(const char *url)
{
        const char *endpoints[] = { url };
        EtcdOptions o = { .endpoints = endpoints, .n_endpoints = 1, .transaction_timeout_ms = 2000 };
        LockBackend *b = NULL;
        Error e = { { 0 } };

        if (lock_backend_etcd_new(&o, &b, &e) < 0)
                fail_msg("lock_backend_etcd_new: %s", e.message);
        return b;
}

/* An update function: locks (or, with id NULL, changes nothing). */
typedef struct Op {
        const char *id;
        int refuse;
        unsigned calls;
        LockDecision decision;
} Op;

static int apply(Semaphore *s, void *userdata)
{
        const GroupPolicy p = { .slots = s->total_slots };
        Op *op = userdata;
        int r;

        op->calls++;
        if (op->refuse)
                return op->refuse;
        if (!op->id)
                return 0;
        r = semaphore_lock(s, op->id, &p, true, 1700000000, &op->decision);
        return r < 0 ? r : op->decision == LOCK_GRANTED;
}

static void test_layout_and_cas(void **state)
{
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Op op = { .id = "n1" };
        Semaphore s;
        Error e = { { 0 } };

        assert_string_equal(b->ops->name, "etcd3");
        assert_false(lock_backend_can_batch(b)); /* one compare-and-swap per group */
        assert_int_equal(b->ops->get(b, "default", &s, &e), -ENOENT);

        /* a new key: created with "version == 0", Airlock's key and value */
        assert_int_equal(lock_backend_update(b, "default", 2, apply, &op, &s, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_int_equal(s.n_holders, 1);
        semaphore_done(&s);
        assert_int_equal(f->txns, 1);
        assert_non_null(fake_find(f, KEY_DEFAULT));
        assert_non_null(strstr(fake_find(f, KEY_DEFAULT)->value, "\"total_slots\":2,\"holders\":[\"n1\"]"));

        /* the next update compares the cached mod_revision: one round trip */
        op.id = "n2";
        assert_int_equal(lock_backend_update(b, "default", 2, apply, &op, NULL, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_int_equal(f->txns, 2);
        assert_int_equal(f->ranges, 2); /* only the get and the first update read the key */
        assert_int_equal(b->stats.conflicts, 0);

        assert_int_equal(b->ops->get(b, "default", &s, &e), 0);
        assert_int_equal(s.total_slots, 2);
        assert_int_equal(s.n_holders, 2);
        assert_string_equal(s.holders[1].id, "n2");
        semaphore_done(&s);
        lock_backend_free(b);
        fake_stop(f);
}

static void test_conflict(void **state)
{
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Op op = { .id = "n1" };
        Semaphore s;
        Error e = { { 0 } };

        assert_int_equal(lock_backend_update(b, "default", 2, apply, &op, NULL, &e), 0);
        /* Airlock (another writer) takes the last slot behind the backend's back */
        pthread_mutex_lock(&f->lock);
        fake_put(f, KEY_DEFAULT, "{\"total_slots\":2,\"holders\":[\"airlock-node\",\"n1\"]}");
        pthread_mutex_unlock(&f->lock);
        op = (Op){ .id = "n2" };
        assert_int_equal(lock_backend_update(b, "default", 2, apply, &op, &s, &e), 0);
        /* the failed transaction returned the new value: decided again on it, nothing written */
        assert_int_equal(op.calls, 2);
        assert_int_equal(op.decision, LOCK_FULL);
        assert_int_equal(b->stats.conflicts, 1);
        assert_int_equal(s.n_holders, 2);
        assert_string_equal(s.holders[0].id, "airlock-node");
        semaphore_done(&s);
        assert_non_null(strstr(fake_find(f, KEY_DEFAULT)->value, "airlock-node"));
        lock_backend_free(b);
        fake_stop(f);
}

static void test_unchanged_confirmed(void **state)
{
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Op op = { .id = "n1" }, look = { .id = NULL };
        Error e = { { 0 } };
        unsigned ranges;

        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), 0);
        /* a state changed elsewhere and an update that changes nothing: the cached state is checked
         * against etcd (a range) before the answer stands */
        pthread_mutex_lock(&f->lock);
        fake_put(f, KEY_DEFAULT, "{\"total_slots\":1,\"holders\":[]}");
        pthread_mutex_unlock(&f->lock);
        ranges = f->ranges;
        op = (Op){ .id = "n1" };
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &look, NULL, &e), 0);
        assert_int_equal(look.calls, 2);
        assert_int_equal(f->ranges, ranges + 1);
        assert_int_equal(f->txns, 1);
        /* the fresh state is the one decided on next */
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        lock_backend_free(b);
        fake_stop(f);
}

/* A key Airlock (Go) wrote with "holders": null is an empty semaphore, not a broken one. */
static void test_null_holders(void **state)
{
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Op op = { .id = "n1" };
        Semaphore s;
        Error e = { { 0 } };

        pthread_mutex_lock(&f->lock);
        fake_put(f, KEY_DEFAULT, "{\"total_slots\":1,\"holders\":null}");
        pthread_mutex_unlock(&f->lock);
        assert_int_equal(b->ops->get(b, "default", &s, &e), 0);
        assert_int_equal(s.n_holders, 0);
        semaphore_done(&s);
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_non_null(strstr(fake_find(f, KEY_DEFAULT)->value, "\"total_slots\":1,\"holders\":[\"n1\"]"));
        lock_backend_free(b);
        fake_stop(f);
}

/* Group names reach the key as Airlock writes them: Go's url.QueryEscape. */
static void test_key_escaping(void **state)
{
        static const struct {
                const char *group, *key;
        } cases[] = {
                { "my_workers", "com.coreos.airlock/groups/my_workers/v1/semaphore" },
                { "eu west/2", "com.coreos.airlock/groups/eu+west%2F2/v1/semaphore" },
                { "say \"hi\"", "com.coreos.airlock/groups/say+%22hi%22/v1/semaphore" },
                { "Z\xc3\xbcrich~.-", "com.coreos.airlock/groups/Z%C3%BCrich~.-/v1/semaphore" },
                { "a+b&c=d%", "com.coreos.airlock/groups/a%2Bb%26c%3Dd%25/v1/semaphore" },
        };
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Error e = { { 0 } };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Op op = { .id = "n1" };
                assert_int_equal(lock_backend_update(b, cases[i].group, 1, apply, &op, NULL, &e), 0);
                assert_int_equal(op.decision, LOCK_GRANTED);
                if (!fake_find(f, cases[i].key))
                        fail_msg("no key %s", cases[i].key);
        }
        lock_backend_free(b);
        fake_stop(f);
}

static void test_errors(void **state)
{
        FakeEtcd *f = fake_start();
        LockBackend *b = backend_for(f->url);
        Op op = { .id = "n1", .refuse = -EINVAL };
        Semaphore s;
        Error e = { { 0 } };

        /* the update function refuses: nothing written */
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "the update was refused"));
        assert_int_equal(f->txns, 0);
        assert_int_equal(b->stats.errors, 1);

        /* a value that is not a semaphore */
        pthread_mutex_lock(&f->lock);
        fake_put(f, "com.coreos.airlock/groups/bad/v1/semaphore", "hello");
        pthread_mutex_unlock(&f->lock);
        op = (Op){ .id = "n1" };
        assert_int_equal(lock_backend_update(b, "bad", 1, apply, &op, NULL, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "holds a value that is not a semaphore"));
        assert_int_equal(b->ops->get(b, "bad", &s, &e), -EBADMSG);

        /* the store is down */
        fake_set_mode(f, FAKE_UNAVAILABLE);
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), -EIO);
        assert_non_null(strstr(e.message, "no leader"));
        assert_int_equal(b->stats.errors, 3);
        assert_true(b->ops->ping(b, &e) < 0);
        fake_set_mode(f, FAKE_NO_LEADER);
        assert_int_equal(b->ops->ping(b, &e), -EIO);
        assert_non_null(strstr(e.message, "no leader"));
        fake_set_mode(f, FAKE_OK);
        assert_int_equal(b->ops->ping(b, &e), 0);
        /* back: the cache was dropped, the update reads the key again */
        assert_int_equal(lock_backend_update(b, "default", 1, apply, &op, NULL, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        lock_backend_free(b);
        fake_stop(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout_and_cas),      cmocka_unit_test(test_conflict),
                cmocka_unit_test(test_unchanged_confirmed), cmocka_unit_test(test_errors),
                cmocka_unit_test(test_null_holders),        cmocka_unit_test(test_key_escaping),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

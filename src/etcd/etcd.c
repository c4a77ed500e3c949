/* etcd.c — the etcd3 client adapter over the v3 JSON gateway (see etcd.h): endpoint failover around one
 * kept-alive connection per endpoint (etcd-http.h: libcurl, loaded only when an etcd client is created);
 * request bodies and answers are built and parsed by etcd-json.c. */
#include "etcd.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

#include "buf.h"
#include "etcd-http.h"
#include "macros.h"

/* Room for a value of ETCD_VALUE_MAX base64-encoded, the key three times and the JSON around them. */
#define REQUEST_MAX (4u * 1024u * 1024u)
#define PATH_MAX_LEN 32

typedef struct Endpoint {
        char *base; /* without trailing '/' */
        EtcdHttp *http;
} Endpoint;

struct Etcd {
        pthread_mutex_t lock; /* held for a whole call: protects everything below */
        size_t current;       /* where the next call starts */
        Buf req;              /* the request body, reused */
        size_t n;
        Endpoint ep[];
};

Etcd *etcd_free(Etcd *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++) {
                etcd_http_free(c->ep[i].http);
                free(c->ep[i].base);
        }
        buf_free(&c->req);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Etcd *, etcd_free);

/* http(s)://host[:port][/], host non-empty, no user info, path, query, fragment, spaces or controls. */
static int endpoint_parse(const char *s, char **ret)
{
        size_t n, skip;
        char *b;

        if (!s)
                return -EINVAL;
        if (strncasecmp(s, "http://", 7) == 0)
                skip = 7;
        else if (strncasecmp(s, "https://", 8) == 0)
                skip = 8;
        else
                return -EINVAL;
        n = strlen(s);
        if (n > ETCD_ENDPOINT_MAX)
                return -EINVAL;
        while (n > skip && s[n - 1] == '/')
                n--;
        if (n == skip)
                return -EINVAL;
        for (size_t i = skip; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch <= ' ' || ch == 0x7f || strchr("/?#@\\", ch))
                        return -EINVAL;
        }
        b = strndup(s, n);
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

int etcd_new(const EtcdOptions *o, Etcd **ret, Error *e)
{
        _cleanup_(etcd_freep) Etcd *c = NULL;
        EtcdHttpOptions ho;
        unsigned timeout;
        int r;

        assert(o);
        assert(ret);
        if (o->n_endpoints == 0 || !o->endpoints)
                return error_setf(e, -EINVAL, "etcd: no endpoints");
        if (o->n_endpoints > ETCD_MAX_ENDPOINTS)
                return error_setf(e, -EINVAL, "etcd: %zu endpoints, at most %u are supported",
                                  o->n_endpoints, ETCD_MAX_ENDPOINTS);
        timeout = o->transaction_timeout_ms ? o->transaction_timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;

        c = calloc(1, sizeof(*c) + o->n_endpoints * sizeof(Endpoint));
        if (!c)
                return error_setf(e, -ENOMEM, "etcd: out of memory");
        r = pthread_mutex_init(&c->lock, NULL);
        if (r != 0) {
                free(TAKE_PTR(c));
                return error_setf(e, -r, "etcd: cannot create a mutex");
        }
        c->req = BUF_INIT(REQUEST_MAX);

        ho = (EtcdHttpOptions){
                .connect_timeout_ms = timeout,
                .total_timeout_ms = timeout,
                .max_body_bytes = ETCD_RESPONSE_MAX,
                .ca_file = o->ca_file,
                .client_cert = o->client_cert,
                .client_key = o->client_key,
        };
        for (size_t i = 0; i < o->n_endpoints; i++) {
                r = endpoint_parse(o->endpoints[i], &c->ep[i].base);
                if (r == -ENOMEM)
                        return error_setf(e, r, "etcd: out of memory");
                if (r < 0)
                        return error_setf(
                                e, r,
                                "etcd: endpoint %zu is not an http:// or https:// URL without a path: "
                                "'%.200s'",
                                i + 1, strna(o->endpoints[i]));
                c->n = i + 1;
                r = etcd_http_new(&ho, &c->ep[i].http, e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

size_t etcd_current_endpoint(Etcd *c)
{
        size_t i;

        pthread_mutex_lock(&c->lock);
        i = c->current;
        pthread_mutex_unlock(&c->lock);
        return i;
}

/* Failures after which another endpoint may do better: the transport, not the request, is at fault. */
static bool transport_failover(int r)
{
        return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -EPROTO || r == -EIO;
}

static void append_message(char *all, size_t size, const char *msg)
{
        size_t n = strlen(all);

        if (n + 3 >= size)
                return;
        snprintf(all + n, size - n, "%s%s", n ? "; " : "", msg);
}

/* POSTs c->req to path, trying each endpoint once from the current one. On success (HTTP 200) returns 0,
 * the answer and the endpoint that gave it (for messages). Called with the lock held. */
static int perform(Etcd *c, const char *path, EtcdHttpResponse *ret, const char **ret_base, Error *e)
{
        char all[ERROR_MESSAGE_MAX] = "";
        int last = -EIO;

        for (size_t k = 0; k < c->n; k++) {
                size_t i = (c->current + k) % c->n;
                Endpoint *ep = &c->ep[i];
                char url[ETCD_ENDPOINT_MAX + PATH_MAX_LEN];
                EtcdHttpResponse resp = {};
                Error ee = {};
                int r, code;

                snprintf(url, sizeof(url), "%s%s", ep->base, path);
                r = etcd_http_post(ep->http, url, c->req.data, c->req.len, &resp, &ee);
                if (r < 0) {
                        if (!transport_failover(r))
                                return error_setf(e, r, "etcd: %s", ee.message);
                        append_message(all, sizeof(all), ee.message);
                        last = r;
                        continue;
                }
                if (resp.status == 200) {
                        c->current = i;
                        *ret = resp;
                        *ret_base = ep->base;
                        return 0;
                }
                r = etcd_json_parse_error(resp.status, resp.body, resp.body_len, &code, &ee);
                etcd_http_response_done(&resp);
                if (code == ETCD_GRPC_UNAVAILABLE) {
                        char m[ERROR_MESSAGE_MAX];
                        snprintf(m, sizeof(m), "%s%s: %s", ep->base, path, ee.message);
                        append_message(all, sizeof(all), m);
                        last = r;
                        continue;
                }
                /* The member answered: the request itself failed. */
                c->current = i;
                return error_setf(e, r, "etcd %s%s: %s", ep->base, path, ee.message);
        }
        if (c->n == 1)
                return error_setf(e, last, "etcd: %s", all);
        return error_setf(e, last, "etcd: none of %zu endpoints answered: %s", c->n, all);
}

/* Builds the request with build() (c->req reset first), performs it and hands back the answer. The
 * lock is released before the answer is parsed. */
#define REQUEST(c, path, build_expr, resp, base, e)                                                         \
        ({                                                                                                  \
                int _r;                                                                                     \
                pthread_mutex_lock(&(c)->lock);                                                             \
                buf_truncate(&(c)->req, 0);                                                                 \
                _r = (build_expr);                                                                          \
                if (_r == -ENOBUFS || _r == -EMSGSIZE)                                                      \
                        _r = error_setf((e), -EMSGSIZE, "etcd %s: request too large", (path));              \
                else if (_r < 0)                                                                            \
                        _r = error_setf((e), _r, "etcd %s: cannot build the request", (path));              \
                else                                                                                        \
                        _r = perform((c), (path), (resp), (base), (e));                                     \
                pthread_mutex_unlock(&(c)->lock);                                                           \
                _r;                                                                                         \
        })

static int check_args(Etcd *c, const char *key, Error *e)
{
        assert(c);
        assert(key);
        if (!*key || strlen(key) > ETCD_KEY_MAX)
                return error_setf(e, -EINVAL, "etcd: the key is empty or longer than %u bytes",
                                  ETCD_KEY_MAX);
        return 0;
}

int etcd_get(Etcd *c, const char *key, EtcdKv *ret, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int r;

        r = check_args(c, key, e);
        if (r < 0)
                return r;
        assert(ret);
        r = REQUEST(c, "/v3/kv/range", etcd_json_range_request(&c->req, key), &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_range(resp.body, resp.body_len, key, ret, e);
        etcd_http_response_done(&resp);
        if (r < 0 && r != -ENOENT)
                return error_prefixf(e, r, "etcd %s", base);
        return r;
}

int etcd_txn_put_if(Etcd *c, const char *key, EtcdCompare cmp, int64_t expected, const void *value,
                    size_t len, EtcdTxnResult *ret, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int r;

        r = check_args(c, key, e);
        if (r < 0)
                return r;
        assert(ret);
        assert(value || len == 0);
        if (expected < 0)
                return error_setf(e, -EINVAL, "etcd: invalid transaction arguments");
        if (len > ETCD_VALUE_MAX)
                return error_setf(e, -EMSGSIZE, "etcd: value of %zu bytes exceeds %u", len, ETCD_VALUE_MAX);
        r = REQUEST(c, "/v3/kv/txn", etcd_json_txn_put_if_request(&c->req, key, cmp, expected, value, len),
                    &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_txn(resp.body, resp.body_len, key, ret, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        return 0;
}

int etcd_txn(Etcd *c, const EtcdTxnOp *ops, size_t n, bool *ret_succeeded, EtcdKv *ret_current, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int r;

        assert(c && ops && ret_succeeded && ret_current);
        for (size_t i = 0; i < n; i++) {
                r = check_args(c, ops[i].key, e);
                if (r < 0)
                        return r;
        }
        r = REQUEST(c, "/v3/kv/txn", etcd_json_txn_request(&c->req, ops, n), &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_txn_all(resp.body, resp.body_len, ops, n, ret_succeeded, ret_current, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        return 0;
}

int etcd_range(Etcd *c, const char *from, const char *end, int64_t limit, EtcdKeyValue **ret, size_t *ret_n,
               bool *ret_more, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int r;

        r = check_args(c, from, e);
        if (r >= 0)
                r = check_args(c, end, e);
        if (r < 0)
                return r;
        r = REQUEST(c, "/v3/kv/range", etcd_json_range_from_request(&c->req, from, end, limit), &resp, &base,
                    e);
        if (r < 0)
                return r;
        r = etcd_json_parse_range_list(resp.body, resp.body_len, from, end, limit, ret, ret_n, ret_more, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        return 0;
}

int etcd_put(Etcd *c, const char *key, const void *value, size_t len, int64_t *ret_revision, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int r;

        r = check_args(c, key, e);
        if (r < 0)
                return r;
        assert(value || len == 0);
        if (len > ETCD_VALUE_MAX)
                return error_setf(e, -EMSGSIZE, "etcd: value of %zu bytes exceeds %u", len, ETCD_VALUE_MAX);
        r = REQUEST(c, "/v3/kv/put", etcd_json_put_request(&c->req, key, value, len), &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_put(resp.body, resp.body_len, ret_revision, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        return 0;
}

int etcd_delete(Etcd *c, const char *key, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        int64_t deleted = 0;
        int r;

        r = check_args(c, key, e);
        if (r < 0)
                return r;
        r = REQUEST(c, "/v3/kv/deleterange", etcd_json_delete_request(&c->req, key), &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_delete(resp.body, resp.body_len, NULL, &deleted, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        return deleted > 0 ? 0 : -ENOENT;
}

int etcd_status(Etcd *c, EtcdStatus *ret, Error *e)
{
        EtcdHttpResponse resp = {};
        const char *base = NULL;
        EtcdStatus s;
        int r;

        assert(c);
        r = REQUEST(c, "/v3/maintenance/status", buf_puts(&c->req, "{}"), &resp, &base, e);
        if (r < 0)
                return r;
        r = etcd_json_parse_status(resp.body, resp.body_len, &s, e);
        etcd_http_response_done(&resp);
        if (r < 0)
                return error_prefixf(e, r, "etcd %s", base);
        if (s.leader == 0)
                return error_setf(e, -EIO, "etcd %s: the member knows no leader", base);
        if (ret)
                *ret = s;
        return 0;
}

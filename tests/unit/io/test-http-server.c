/* test-http-server.c — unit tests for the libmicrohttpd server adapter: request delivery, replies,
 * caps (headers, bodies, idle connections), keep-alive, concurrency, graceful stop and TLS; and its
 * connection guard (http-guard.h): address keys, per-address counts, request deadlines. Servers
 * bind to 127.0.0.1 port 0; clients are raw sockets (to control the bytes) or the client adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "blob.h"
#include "buf.h"
#include "http-client.h"
#include "http-guard.h"
#include "http-server.h"
#include "macros.h"
#include "strutil.h"

#define IO_TIMEOUT_SEC 20

/* ---- test handler ---- */

typedef struct TestState {
        Blob *blob;
        sem_t slow_entered;
        sem_t slow_release; /* /slow waits for it (at most 30 s), or sleeps 300 ms when not used */
        bool slow_wait;
        unsigned long calls; /* atomic */
} TestState;

/* ---- deferred replies: /defer (answered 100 ms later by another thread), /defer-now (answered before
 * the handler returns), /defer-fail (answered with an error, later) ---- */

typedef struct Finisher {
        HttpDeferred *d;
        int result;
        unsigned delay_ms;
        char body[128];
} Finisher;

static void finish(Finisher *f)
{
        HttpReply reply = { .status = 200, .content_type = "text/plain" };

        if (f->result >= 0) {
                reply.owned = strdup(f->body);
                reply.owned_len = reply.owned ? strlen(reply.owned) : 0;
                http_reply_add_header(&reply, "X-Deferred", "yes");
        }
        http_deferred_finish(f->d, reply.owned || f->result < 0 ? f->result : -ENOMEM, &reply);
        free(f);
}

static void *finisher_run(void *p)
{
        Finisher *f = p;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)f->delay_ms * 1000 * 1000 };

        nanosleep(&ts, NULL);
        finish(f);
        return NULL;
}

static int defer(TestState *t, const HttpRequest *req, HttpReply *reply)
{
        Finisher *f;
        pthread_t th;

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->d = http_request_defer(req);
        if (!f->d) {
                free(f);
                reply->status = 200;
                reply->content_type = "text/plain";
                reply->owned = strdup("not deferred");
                reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
                return reply->owned ? 0 : -ENOMEM;
        }
        /* A second deferral of the same request is refused. */
        if (http_request_defer(req))
                f->result = -EBADMSG;
        snprintf(f->body, sizeof(f->body), "deferred %s query=%s", req->path, req->query);
        if (streq(req->path, "/defer-now")) {
                finish(f);
                /* What the handler returns or fills after deferring does not count. */
                reply->status = 500;
                return -EIO;
        }
        if (streq(req->path, "/defer-fail"))
                f->result = -EIO;
        f->delay_ms = 100;
        if (pthread_create(&th, NULL, finisher_run, f) != 0) {
                f->result = -EAGAIN;
                finish(f);
                return 0;
        }
        pthread_detach(th);
        return 0;
}

static int handler(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        TestState *t = userdata;
        Buf b = BUF_INIT(1024 * 1024);
        int r;

        __atomic_add_fetch(&t->calls, 1, __ATOMIC_RELAXED);

        if (streq(req->path, "/blob")) {
                reply->status = 200;
                reply->content_type = "application/octet-stream";
                reply->blob = blob_ref(t->blob);
                return 0;
        }
        if (streq(req->path, "/blob-text")) {
                /* The same blob under another content type than its shared response's. */
                reply->status = 200;
                reply->content_type = "text/plain";
                reply->blob = blob_ref(t->blob);
                return 0;
        }
        if (streq(req->path, "/blob-header")) {
                /* Extra headers: not the shared response either. */
                reply->status = 200;
                reply->content_type = "application/octet-stream";
                reply->blob = blob_ref(t->blob);
                return http_reply_add_header(reply, "X-Extra", "yes");
        }
        if (streq(req->path, "/headers")) {
                /* (No cmocka asserts here: this runs on a server thread.) */
                reply->status = 200;
                if (http_reply_add_header(reply, "X-One", "1") < 0 ||
                    http_reply_add_header(reply, "X-Two", "two") < 0 ||
                    http_reply_add_header(reply, "X-Three", "3") < 0 ||
                    http_reply_add_header(reply, "X-Four", "4") < 0 ||
                    http_reply_add_header(reply, "X-5", "5") < 0 ||
                    http_reply_add_header(reply, "X-6", "6") < 0 ||
                    http_reply_add_header(reply, "X-7", "7") < 0 ||
                    http_reply_add_header(reply, "X-8", "8") < 0 ||
                    http_reply_add_header(reply, "X-Five", "9") != -E2BIG)
                        return -EINVAL;
                return 0;
        }
        if (streq(req->path, "/fail")) {
                /* Whatever the handler put in the reply is dropped. */
                reply->blob = blob_ref(t->blob);
                return -EIO;
        }
        if (streq(req->path, "/error"))
                return http_reply_error(reply, 404, "not_found", "no \"such\" thing\n");
        if (streq(req->path, "/empty")) {
                reply->status = 204;
                return 0;
        }
        if (streq(req->path, "/slow")) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = 300 * 1000 * 1000 };
                sem_post(&t->slow_entered);
                if (t->slow_wait) {
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 30;
                        while (sem_timedwait(&t->slow_release, &ts) < 0 && errno == EINTR)
                                ;
                } else
                        nanosleep(&ts, NULL);
                reply->status = 200;
                reply->content_type = "text/plain";
                reply->owned = strdup("slow done");
                reply->owned_len = strlen("slow done");
                return reply->owned ? 0 : -ENOMEM;
        }
        if (startswith(req->path, "/defer"))
                return defer(t, req, reply);
        if (streq(req->path, "/len")) {
                r = buf_printf(&b, "%zu", req->body_len);
                goto owned;
        }

        /* Anything else: echo what the adapter delivered. */
        r = buf_printf(&b, "method=%s path=%s query=%s peer=%s x-test=%s body=", req->method, req->path,
                       req->query, req->peer, strna(http_request_header(req, "x-TEST")));
        if (r >= 0 && req->body)
                r = buf_append(&b, req->body, req->body_len);
owned:
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = "text/plain";
        reply->owned = buf_steal(&b, &reply->owned_len);
        return 0;
}

static TestState *state_new(void)
{
        TestState *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        t->blob = blob_new("the cached graph", 16);
        assert_non_null(t->blob);
        assert_int_equal(sem_init(&t->slow_entered, 0, 0), 0);
        assert_int_equal(sem_init(&t->slow_release, 0, 0), 0);
        return t;
}

static void state_free(TestState *t)
{
        assert_int_equal(t->blob->refs, 1);
        blob_unref(t->blob);
        sem_destroy(&t->slow_entered);
        sem_destroy(&t->slow_release);
        free(t);
}

static HttpServer *start(TestState *t, HttpServerConfig c)
{
        HttpServer *s = NULL;
        Error e = {};

        if (!c.address)
                c.address = "127.0.0.1";
        c.handler = handler;
        c.userdata = t;
        assert_int_equal(http_server_start(&c, &s, &e), 0);
        assert_non_null(s);
        assert_true(http_server_port(s) != 0);
        return s;
}

/* ---- raw socket client ---- */

typedef struct Conn {
        int fd;
        char *buf; /* bytes received but not consumed */
        size_t len, size;
} Conn;

typedef struct Resp {
        int status;
        char *head; /* status line and headers, NUL-terminated */
        char *body;
        size_t body_len;
} Resp;

static int connect_to(uint16_t port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static Conn *conn_open(uint16_t port)
{
        Conn *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->fd = connect_to(port);
        assert_true(c->fd >= 0);
        c->size = 4096;
        c->buf = malloc(c->size);
        assert_non_null(c->buf);
        return c;
}

static void conn_close(Conn *c)
{
        if (!c)
                return;
        close(c->fd);
        free(c->buf);
        free(c);
}

/* Sends everything; returns 0 or -errno (the server may close early on purpose). */
static int conn_send(Conn *c, const void *p, size_t n)
{
        const char *d = p;
        while (n > 0) {
                ssize_t k = send(c->fd, d, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                d += k;
                n -= (size_t)k;
        }
        return 0;
}

static int send_str(Conn *c, const char *s)
{
        return conn_send(c, s, strlen(s));
}

/* Receives more bytes: >0 count, 0 on orderly close, -errno on error (-EAGAIN on timeout). */
static ssize_t conn_fill(Conn *c)
{
        ssize_t k;

        if (c->len == c->size) {
                c->size *= 2;
                c->buf = realloc(c->buf, c->size);
                assert_non_null(c->buf);
        }
        do
                k = recv(c->fd, c->buf + c->len, c->size - c->len, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        c->len += (size_t)k;
        return k;
}

static void resp_done(Resp *r)
{
        free(r->head);
        free(r->body);
        *r = (Resp){};
}

/* Copies the value of a response header into out; false when absent. */
static bool resp_header(const Resp *r, const char *name, char *out, size_t n)
{
        size_t l = strlen(name);

        for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
                const char *line = p + 2;
                if (strncasecmp(line, name, l) == 0 && line[l] == ':') {
                        const char *v = line + l + 1, *end = strstr(v, "\r\n");
                        while (*v == ' ')
                                v++;
                        snprintf(out, n, "%.*s", (int)(end ? end - v : (ptrdiff_t)strlen(v)), v);
                        return true;
                }
        }
        return false;
}

/* Reads one response. Returns 0, or -errno: -ECONNRESET, -EPIPE (closed before a full response),
 * -EAGAIN (timeout). */
static int read_response_full(Conn *c, Resp *r, bool head_only)
{
        char *end, v[64];
        size_t head_len, want;
        ssize_t k;

        *r = (Resp){};
        while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
                k = conn_fill(c);
                if (k <= 0)
                        return k == 0 ? -EPIPE : (int)k;
        }
        head_len = (size_t)(end - c->buf) + 4;
        r->head = strndup(c->buf, head_len);
        assert_non_null(r->head);
        assert_int_equal(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1);
        if (head_only || r->status == 204 || r->status == 304 || r->status < 200)
                want = 0;
        else if (resp_header(r, "Content-Length", v, sizeof(v)))
                want = strtoul(v, NULL, 10);
        else {
                /* No length: the body runs to the end of the connection. */
                while ((k = conn_fill(c)) > 0)
                        ;
                want = c->len - head_len;
        }
        while (c->len - head_len < want) {
                k = conn_fill(c);
                if (k <= 0) {
                        resp_done(r);
                        return k == 0 ? -EPIPE : (int)k;
                }
        }
        r->body = malloc(want + 1);
        assert_non_null(r->body);
        memcpy(r->body, c->buf + head_len, want);
        r->body[want] = 0;
        r->body_len = want;
        memmove(c->buf, c->buf + head_len + want, c->len - head_len - want);
        c->len -= head_len + want;
        return 0;
}

static int read_response(Conn *c, Resp *r)
{
        return read_response_full(c, r, false);
}

/* Waits for the server to close the connection: true on close (FIN or RST), false on timeout. */
static bool conn_wait_closed(Conn *c)
{
        for (;;) {
                ssize_t k = conn_fill(c);
                if (k == 0 || k == -ECONNRESET)
                        return true;
                if (k < 0)
                        return false;
                c->len = 0; /* discard */
        }
}

static void request(uint16_t port, const char *raw, Resp *r)
{
        Conn *c = conn_open(port);
        assert_int_equal(conn_send(c, raw, strlen(raw)), 0);
        assert_int_equal(read_response(c, r), 0);
        conn_close(c);
}

static void assert_json_error(const Resp *r, const char *kind)
{
        char ct[128];
        json_error_t je;
        json_t *j;

        assert_true(resp_header(r, "Content-Type", ct, sizeof(ct)));
        assert_string_equal(ct, "application/json");
        j = json_loadb(r->body, r->body_len, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "kind")), kind);
        assert_non_null(json_string_value(json_object_get(j, "value")));
        json_decref(j);
}

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_start_errors(void **state)
{
        HttpServer *s = NULL;
        Error e = {};
        HttpServerConfig c = { .address = "localhost", .handler = handler };

        assert_int_equal(http_server_start(&c, &s, &e), -EINVAL);
        assert_null(s);
        assert_non_null(strstr(e.message, "localhost"));

        c = (HttpServerConfig){ .address = "127.0.0.1", .handler = NULL };
        assert_int_equal(http_server_start(&c, &s, &e), -EINVAL);

        c = (HttpServerConfig){ .address = "127.0.0.1", .handler = handler, .tls_cert_pem = "x" };
        assert_int_equal(http_server_start(&c, &s, &e), -EINVAL);
        assert_null(s);

        c = (HttpServerConfig){ .address = "127.0.0.1", .handler = handler, .max_header_bytes = 64 << 20 };
        assert_int_equal(http_server_start(&c, &s, &e), -EINVAL);
        assert_null(s);

        http_server_stop(NULL, 0);
        assert_int_equal(http_server_port(NULL), 0);
}

static void test_port_in_use(void **state)
{
        TestState *t = state_new();
        HttpServer *a = start(t, (HttpServerConfig){}), *b = NULL;
        HttpServerConfig c = { .address = "127.0.0.1", .port = http_server_port(a), .handler = handler };
        Error e = {};

        assert_true(http_server_start(&c, &b, &e) < 0);
        assert_null(b);
        assert_true(strlen(e.message) > 0);
        http_server_stop(a, 1000);
        state_free(t);
}

static void test_get_query_path(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        Resp r;
        Conn *c;
        char ct[64], v[64];

        request(http_server_port(s),
                "GET /a%20b/c?x=1&y=%2F+z HTTP/1.1\r\nHost: x\r\nX-Test: hello\r\nConnection: close\r\n\r\n",
                &r);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "Content-Type", ct, sizeof(ct)));
        assert_string_equal(ct, "text/plain");
        assert_string_equal(r.body,
                            "method=GET path=/a%20b/c query=x=1&y=%2F+z peer=127.0.0.1 x-test=hello body=");
        resp_done(&r);

        /* No query at all, and an empty one. */
        request(http_server_port(s), "GET /p HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_string_equal(r.body, "method=GET path=/p query= peer=127.0.0.1 x-test=n/a body=");
        resp_done(&r);
        request(http_server_port(s), "GET /p? HTTP/1.0\r\n\r\n", &r);
        assert_string_equal(r.body, "method=GET path=/p query= peer=127.0.0.1 x-test=n/a body=");
        resp_done(&r);

        /* HEAD gets the headers only. */
        c = conn_open(http_server_port(s));
        assert_int_equal(send_str(c, "HEAD /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response_full(c, &r, true), 0);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "Content-Length", v, sizeof(v)));
        assert_string_equal(v, "16");
        resp_done(&r);
        /* and the connection goes on */
        assert_int_equal(send_str(c, "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_string_equal(r.body, "the cached graph");
        resp_done(&r);
        conn_close(c);

        http_server_stop(s, 1000);
        state_free(t);
}

static void test_post_body(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        Resp r;

        request(http_server_port(s),
                "POST /submit HTTP/1.1\r\nHost: x\r\nx-test: Mixed\r\nContent-Length: 11\r\n\r\nhello world",
                &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body,
                            "method=POST path=/submit query= peer=127.0.0.1 x-test=Mixed body=hello world");
        resp_done(&r);

        /* Chunked. */
        request(http_server_port(s),
                "PUT /c?k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "method=PUT path=/c query=k peer=127.0.0.1 x-test=n/a body=hello world");
        resp_done(&r);

        /* An empty body is NULL. */
        request(http_server_port(s), "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
        assert_string_equal(r.body, "0");
        resp_done(&r);

        http_server_stop(s, 1000);
        state_free(t);
}

static void test_replies(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        uint16_t port = http_server_port(s);
        Resp r;
        char v[64];

        for (int i = 0; i < 3; i++) {
                request(port, "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n", &r);
                assert_int_equal(r.status, 200);
                assert_true(resp_header(&r, "Content-Type", v, sizeof(v)));
                assert_string_equal(v, "application/octet-stream");
                assert_int_equal(r.body_len, 16);
                assert_string_equal(r.body, "the cached graph");
                resp_done(&r);
        }

        /* Once the blob has its shared response, replies that differ still get their own. */
        request(port, "GET /blob-text HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "Content-Type", v, sizeof(v)));
        assert_string_equal(v, "text/plain");
        assert_string_equal(r.body, "the cached graph");
        resp_done(&r);
        request(port, "GET /blob-header HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "X-Extra", v, sizeof(v)));
        assert_string_equal(r.body, "the cached graph");
        resp_done(&r);
        assert_non_null(blob_attachment(t->blob));

        request(port, "GET /headers HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "X-One", v, sizeof(v)));
        assert_string_equal(v, "1");
        assert_true(resp_header(&r, "X-Two", v, sizeof(v)));
        assert_string_equal(v, "two");
        assert_true(resp_header(&r, "X-Four", v, sizeof(v)));
        assert_true(resp_header(&r, "X-8", v, sizeof(v)));
        assert_false(resp_header(&r, "X-Five", v, sizeof(v)));
        assert_int_equal(r.body_len, 0);
        resp_done(&r);

        request(port, "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 204);
        assert_int_equal(r.body_len, 0);
        resp_done(&r);

        request(port, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 500);
        assert_json_error(&r, "internal_error");
        resp_done(&r);

        request(port, "GET /error HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_int_equal(r.status, 404);
        assert_json_error(&r, "not_found");
        assert_string_equal(r.body, "{\"kind\":\"not_found\",\"value\":\"no \\\"such\\\" thing\\n\"}");
        resp_done(&r);

        http_server_stop(s, 1000);
        /* Every response released its blob reference. */
        assert_int_equal(t->blob->refs, 1);
        state_free(t);
}

static void test_header_cap(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .max_header_bytes = 1024 });
        uint16_t port = http_server_port(s);
        char *req = malloc(256 * 1024);
        char filler[2048];
        Resp r;
        Conn *c;
        int k;

        assert_non_null(req);
        memset(filler, 'a', sizeof(filler));

        /* Just under the cap: fine. */
        snprintf(req, 256 * 1024, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Filler: %.*s\r\n\r\n", 900, filler);
        request(port, req, &r);
        assert_int_equal(r.status, 200);
        resp_done(&r);

        /* Over the cap but within MHD's pool: the adapter answers 431 with JSON. */
        snprintf(req, 256 * 1024, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Filler: %.*s\r\n\r\n", 1500, filler);
        request(port, req, &r);
        assert_int_equal(r.status, 431);
        assert_json_error(&r, "header_fields_too_large");
        resp_done(&r);

        /* A request target over the cap: 414 with JSON. */
        snprintf(req, 256 * 1024, "GET /ok?%.*s HTTP/1.1\r\nHost: x\r\n\r\n", 1500, filler);
        request(port, req, &r);
        assert_int_equal(r.status, 414);
        assert_json_error(&r, "uri_too_long");
        resp_done(&r);

        /* Far beyond the cap: MHD refuses on its own (431 for header lines) and closes. */
        strcpy(req, "GET /ok HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 100; i++)
                snprintf(req + strlen(req), 256 * 1024 - strlen(req), "X-F%d: %.*s\r\n", i, 1000, filler);
        strcat(req, "\r\n");
        c = conn_open(port);
        (void)conn_send(c, req, strlen(req)); /* may fail: the server stops reading */
        k = read_response(c, &r);
        if (k == 0) {
                assert_int_equal(r.status, 431);
                resp_done(&r);
        } else
                assert_int_equal(k, -ECONNRESET);
        assert_true(conn_wait_closed(c));
        conn_close(c);

        /* The same for a huge request line: 414. */
        strcpy(req, "GET /");
        for (int i = 0; i < 100; i++)
                snprintf(req + strlen(req), 256 * 1024 - strlen(req), "%.*s", 1000, filler);
        strcat(req, " HTTP/1.1\r\nHost: x\r\n\r\n");
        c = conn_open(port);
        (void)conn_send(c, req, strlen(req));
        k = read_response(c, &r);
        if (k == 0) {
                assert_int_equal(r.status, 414);
                resp_done(&r);
        } else
                assert_int_equal(k, -ECONNRESET);
        assert_true(conn_wait_closed(c));
        conn_close(c);

        http_server_stop(s, 1000);
        /* Only the first request reached the handler. */
        assert_int_equal(t->calls, 1);
        state_free(t);
        free(req);
}

static void test_many_args(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        uint16_t port = http_server_port(s);
        Buf b = BUF_INIT(64 * 1024);
        char v[64];
        double t0;
        Resp r;
        Conn *c;

        /* A couple hundred query arguments within the header cap are fine. */
        assert_int_equal(buf_puts(&b, "GET /q?"), 0);
        for (int i = 0; i < 200; i++)
                assert_int_equal(buf_printf(&b, "%sa%d=%d", i ? "&" : "", i, i), 0);
        assert_int_equal(buf_puts(&b, " HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        request(port, b.data, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "query=a0=0&a1=1&"));
        assert_non_null(strstr(r.body, "&a199=199 peer="));
        resp_done(&r);

        /* Thousands of them (MHD 0.9.75 alone would overflow its pool and drop the request unanswered)
         * get a 400 at once, and the connection is closed. */
        buf_truncate(&b, 0);
        assert_int_equal(buf_puts(&b, "GET /q?"), 0);
        for (int i = 0; i < 1500; i++)
                assert_int_equal(buf_puts(&b, "a=1&"), 0);
        assert_int_equal(buf_puts(&b, " HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        c = conn_open(port);
        t0 = now_sec();
        assert_int_equal(conn_send(c, b.data, b.len), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 400);
        assert_json_error(&r, "bad_request");
        assert_non_null(strstr(r.body, "query arguments"));
        assert_true(resp_header(&r, "Connection", v, sizeof(v)));
        assert_string_equal(v, "close");
        resp_done(&r);
        assert_true(conn_wait_closed(c));
        assert_true(now_sec() - t0 < 5);
        conn_close(c);

        buf_free(&b);
        /* The refused request is not counted as in flight: stopping does not wait for it. */
        t0 = now_sec();
        http_server_stop(s, 30000);
        assert_true(now_sec() - t0 < 10);
        assert_int_equal(t->calls, 1);
        state_free(t);
}

/* Sends raw, expects status with a JSON error of that kind, "Connection: close" and the close itself,
 * all within a few seconds. */
static void expect_refused(uint16_t port, const char *raw, unsigned status, const char *kind)
{
        Conn *c = conn_open(port);
        double t0 = now_sec();
        char v[64];
        Resp r;

        assert_int_equal(conn_send(c, raw, strlen(raw)), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, status);
        assert_json_error(&r, kind);
        assert_true(resp_header(&r, "Connection", v, sizeof(v)));
        assert_string_equal(v, "close");
        resp_done(&r);
        assert_true(conn_wait_closed(c));
        assert_true(now_sec() - t0 < 5);
        conn_close(c);
}

static void test_smuggling(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        uint16_t port = http_server_port(s);
        Resp r;

        /* Two different lengths: MHD alone takes the first and reads the rest as a second request. */
        expect_refused(port,
                       "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n"
                       "helloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                       400, "bad_request");
        /* Identical duplicates are refused too (RFC 9112 6.3 allows either). */
        expect_refused(port,
                       "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                       400, "bad_request");
        /* A length and a chunked body. */
        expect_refused(
                port,
                "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n",
                400, "bad_request");
        /* Header names that are not tokens: whitespace before the colon, other separators. */
        expect_refused(port,
                       "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\n\r\n",
                       400, "bad_request");
        expect_refused(port, "GET /q HTTP/1.1\r\nHost: x\r\nX\tY: 1\r\n\r\n", 400, "bad_request");
        expect_refused(port, "GET /q HTTP/1.1\r\nHost: x\r\nX(Y): 1\r\n\r\n", 400, "bad_request");
        /* Transfer codings other than chunked: 501 at once instead of waiting for the idle timeout. */
        expect_refused(port, "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxyz", 501,
                       "not_implemented");
        expect_refused(port, "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n", 501,
                       "not_implemented");
        expect_refused(port, "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                       "not_implemented");
        assert_int_equal(t->calls, 0);

        /* What stays fine: one length, chunked alone (any case), token names with every allowed sign. */
        request(port, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", &r);
        assert_int_equal(r.status, 200);
        resp_done(&r);
        request(port,
                "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                &r);
        assert_int_equal(r.status, 200);
        resp_done(&r);
        request(port, "GET /q HTTP/1.1\r\nHost: x\r\nX-a!#$%&'*+.^_`|~09: 1\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        resp_done(&r);
        assert_int_equal(t->calls, 3);

        http_server_stop(s, 1000);
        state_free(t);
}

static void test_body_cap(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .max_body_bytes = 1000 });
        uint16_t port = http_server_port(s);
        char body[4096], chunk[64];
        Resp r;
        Conn *c;

        memset(body, 'b', sizeof(body));

        /* Exactly the cap. */
        c = conn_open(port);
        assert_int_equal(send_str(c, "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"), 0);
        assert_int_equal(conn_send(c, body, 1000), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "1000");
        resp_done(&r);
        conn_close(c);

        /* Content-Length over the cap: refused before the body is read, then closed. */
        c = conn_open(port);
        const char *big = "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n";
        assert_int_equal(conn_send(c, big, strlen(big)), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 413);
        assert_json_error(&r, "payload_too_large");
        resp_done(&r);
        assert_true(conn_wait_closed(c));
        conn_close(c);

        /* The same when the client says Expect: 100-continue: no 100, just the 413. */
        c = conn_open(port);
        big = "PUT /len HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n";
        assert_int_equal(conn_send(c, big, strlen(big)), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 413);
        assert_json_error(&r, "payload_too_large");
        resp_done(&r);
        conn_close(c);

        /* Chunked, growing past the cap: counted while streaming, 413 at the end. */
        c = conn_open(port);
        big = "POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_int_equal(conn_send(c, big, strlen(big)), 0);
        for (int i = 0; i < 4; i++) {
                snprintf(chunk, sizeof(chunk), "%x\r\n", 400);
                assert_int_equal(conn_send(c, chunk, strlen(chunk)), 0);
                assert_int_equal(conn_send(c, body, 400), 0);
                assert_int_equal(send_str(c, "\r\n"), 0);
        }
        assert_int_equal(send_str(c, "0\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 413);
        assert_json_error(&r, "payload_too_large");
        resp_done(&r);
        /* The body was read to its end, so the connection can go on. */
        assert_int_equal(send_str(c, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 200);
        resp_done(&r);
        conn_close(c);

        /* Chunked within the cap. */
        c = conn_open(port);
        big = "POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_int_equal(conn_send(c, big, strlen(big)), 0);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(send_str(c, "1f4\r\n"), 0);
                assert_int_equal(conn_send(c, body, 500), 0);
                assert_int_equal(send_str(c, "\r\n"), 0);
        }
        assert_int_equal(send_str(c, "0\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "1000");
        resp_done(&r);
        conn_close(c);

        http_server_stop(s, 1000);
        state_free(t);
}

static void test_idle_timeout(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .idle_timeout_sec = 1 });
        uint16_t port = http_server_port(s);
        double t0;
        Resp r;
        Conn *c;

        /* A connection that never sends anything. */
        c = conn_open(port);
        t0 = now_sec();
        assert_true(conn_wait_closed(c));
        assert_true(now_sec() - t0 >= 0.5);
        conn_close(c);

        /* A half-sent request. */
        c = conn_open(port);
        assert_int_equal(send_str(c, "GET / HTTP/1.1\r\nHost:"), 0);
        assert_true(conn_wait_closed(c));
        conn_close(c);

        /* An idle keep-alive connection after a request. */
        c = conn_open(port);
        assert_int_equal(send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 200);
        resp_done(&r);
        t0 = now_sec();
        assert_true(conn_wait_closed(c));
        assert_true(now_sec() - t0 >= 0.5);
        conn_close(c);

        http_server_stop(s, 1000);
        state_free(t);
}

static void test_keep_alive(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        Conn *c = conn_open(http_server_port(s));
        char req[128], expect[256];
        Resp r;

        for (int i = 0; i < 500; i++) {
                snprintf(req, sizeof(req), "GET /n?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
                assert_int_equal(conn_send(c, req, strlen(req)), 0);
                assert_int_equal(read_response(c, &r), 0);
                assert_int_equal(r.status, 200);
                snprintf(expect, sizeof(expect),
                         "method=GET path=/n query=i=%d peer=127.0.0.1 x-test=n/a body=", i);
                assert_string_equal(r.body, expect);
                resp_done(&r);
                if (i % 2 == 0) {
                        /* Keep-alive across blob replies too. */
                        assert_int_equal(send_str(c, "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
                        assert_int_equal(read_response(c, &r), 0);
                        assert_string_equal(r.body, "the cached graph");
                        resp_done(&r);
                }
        }
        /* Pipelined requests. */
        assert_int_equal(send_str(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"),
                         0);
        assert_int_equal(read_response(c, &r), 0);
        assert_non_null(strstr(r.body, "path=/a "));
        resp_done(&r);
        assert_int_equal(read_response(c, &r), 0);
        assert_non_null(strstr(r.body, "path=/b "));
        resp_done(&r);

        conn_close(c);
        http_server_stop(s, 1000);
        assert_int_equal(t->blob->refs, 1);
        state_free(t);
}

typedef struct Worker {
        pthread_t thread;
        uint16_t port;
        int id;
        int ok;
} Worker;

static void *worker_run(void *p)
{
        Worker *w = p;
        HttpClient *c = NULL;
        char url[128], expect[256];

        if (http_client_new(&(HttpClientOptions){ .total_timeout_ms = 60000 }, &c) < 0)
                return NULL;
        for (int i = 0; i < 200; i++) {
                HttpResponse r;
                Error e;
                bool blob = i % 2 == 1;

                snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s?w=%d&i=%d", w->port, blob ? "blob" : "w",
                         w->id, i);
                snprintf(expect, sizeof(expect),
                         "method=GET path=/w query=w=%d&i=%d peer=127.0.0.1 x-test=n/a body=", w->id, i);
                if (http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e) < 0)
                        continue;
                if (r.status == 200 && streq(r.body, blob ? "the cached graph" : expect))
                        w->ok++;
                http_response_done(&r);
        }
        http_client_free(c);
        return NULL;
}

static void run_concurrent(unsigned threads)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .threads = threads });
        Worker w[8];

        for (int i = 0; i < 8; i++) {
                w[i] = (Worker){ .port = http_server_port(s), .id = i };
                assert_int_equal(pthread_create(&w[i].thread, NULL, worker_run, &w[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(w[i].thread, NULL);
                assert_int_equal(w[i].ok, 200);
        }
        http_server_stop(s, 1000);
        assert_int_equal(t->calls, 1600);
        assert_int_equal(t->blob->refs, 1);
        state_free(t);
}

static void test_concurrent_one_thread(void **state)
{
        run_concurrent(1);
}

static void test_concurrent_pool(void **state)
{
        run_concurrent(4);
}

/* Many requests ready at once on the one thread: libmicrohttpd 0.9.75's own epoll thread stalls when an
 * epoll_wait() returns its maximum of 128 events and nothing else happens (it waits again with no
 * bound, the ready connections unserved); 256 connections, each with a request sent before any answer is
 * read, are all answered at once. */
static void test_many_ready_at_once(void **state)
{
        enum { N = 256 };
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .threads = 1, .max_connections_per_address = 1024 });
        Conn *c[N];
        double t0;
        Resp r;

        for (int i = 0; i < N; i++)
                c[i] = conn_open(http_server_port(s));
        /* Every connection accepted and idle before the burst, so that the requests are the events. */
        for (int i = 0; i < N; i++) {
                assert_int_equal(send_str(c[i], "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
                assert_int_equal(read_response(c[i], &r), 0);
                resp_done(&r);
        }
        t0 = now_sec();
        for (int i = 0; i < N; i++)
                assert_int_equal(send_str(c[i], "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        for (int i = 0; i < N; i++) {
                assert_int_equal(read_response(c[i], &r), 0);
                assert_int_equal(r.status, 200);
                resp_done(&r);
        }
        assert_true(now_sec() - t0 < 5);
        for (int i = 0; i < N; i++)
                conn_close(c[i]);
        http_server_stop(s, 1000);
        state_free(t);
}

typedef struct SlowClient {
        uint16_t port;
        int r;
        long status;
        char body[64];
} SlowClient;

static void *slow_client_run(void *p)
{
        SlowClient *sc = p;
        HttpClient *c = NULL;
        HttpResponse r;
        Error e;
        char url[64];

        sc->r = http_client_new(NULL, &c);
        if (sc->r < 0)
                return NULL;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/slow", sc->port);
        sc->r = http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e);
        if (sc->r == 0) {
                sc->status = r.status;
                snprintf(sc->body, sizeof(sc->body), "%s", r.body);
                http_response_done(&r);
        }
        http_client_free(c);
        return NULL;
}

static void test_graceful_stop(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){});
        uint16_t port = http_server_port(s);
        SlowClient sc = { .port = port, .r = -1 };
        pthread_t th;
        Conn *idle;
        Resp r;
        int fd;

        /* An idle keep-alive connection must not hold up the stop. */
        idle = conn_open(port);
        assert_int_equal(send_str(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(idle, &r), 0);
        resp_done(&r);

        assert_int_equal(pthread_create(&th, NULL, slow_client_run, &sc), 0);
        while (sem_wait(&t->slow_entered) < 0)
                assert_int_equal(errno, EINTR);
        /* The handler is running now; stop waits for it (up to a generous timeout). */
        http_server_stop(s, 30000);
        pthread_join(th, NULL);
        assert_int_equal(sc.r, 0);
        assert_int_equal(sc.status, 200);
        assert_string_equal(sc.body, "slow done");

        /* Everything is closed. */
        assert_true(conn_wait_closed(idle));
        conn_close(idle);
        fd = connect_to(port);
        assert_int_equal(fd, -ECONNREFUSED);
        state_free(t);
}

/* A deferred reply parks its connection: the server's only thread serves others meanwhile, the answer
 * arrives on the kept-alive connection in order, pipelined requests included; errors are 500s; and a
 * stop waits for deferred replies still outstanding. */
static void test_deferred(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .threads = 1, .allow_deferred = true });
        uint16_t port = http_server_port(s);
        Conn *c = conn_open(port), *other = conn_open(port);
        char hdr[16];
        double t0;
        Resp r;

        for (int i = 0; i < 5; i++) {
                char req[128], expect[128];

                snprintf(req, sizeof(req), "GET /defer?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
                t0 = now_sec();
                assert_int_equal(conn_send(c, req, strlen(req)), 0);
                /* Meanwhile, the other connection is served at once by the same thread. */
                assert_int_equal(send_str(other, "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
                assert_int_equal(read_response(other, &r), 0);
                assert_string_equal(r.body, "the cached graph");
                assert_true(now_sec() - t0 < 0.09);
                resp_done(&r);

                assert_int_equal(read_response(c, &r), 0);
                assert_true(now_sec() - t0 >= 0.09);
                assert_int_equal(r.status, 200);
                snprintf(expect, sizeof(expect), "deferred /defer query=i=%d", i);
                assert_string_equal(r.body, expect);
                assert_true(resp_header(&r, "X-Deferred", hdr, sizeof(hdr)));
                resp_done(&r);
        }

        /* Answered before the handler returned. */
        assert_int_equal(send_str(c, "GET /defer-now?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "deferred /defer-now query=x=1");
        resp_done(&r);

        /* An error, later: 500 with a JSON body, and the connection goes on. */
        assert_int_equal(send_str(c, "GET /defer-fail HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        assert_int_equal(read_response(c, &r), 0);
        assert_json_error(&r, "internal_error");
        resp_done(&r);

        /* Pipelined: answers in request order. */
        assert_int_equal(send_str(c, "GET /defer?p=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /defer-now?p=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /defer?p=3 HTTP/1.1\r\nHost: x\r\n\r\n"),
                         0);
        for (int i = 1; i <= 3; i++) {
                char expect[64];
                assert_int_equal(read_response(c, &r), 0);
                snprintf(expect, sizeof(expect), "deferred /defer%s query=p=%d", i == 2 ? "-now" : "", i);
                assert_string_equal(r.body, expect);
                resp_done(&r);
        }

        /* A stop waits for a reply still deferred. */
        assert_int_equal(send_str(c, "GET /defer?last=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        while (__atomic_load_n(&t->calls, __ATOMIC_RELAXED) < 5 * 2 + 6)
                usleep(1000);
        http_server_stop(s, 5000);
        assert_int_equal(read_response(c, &r), 0);
        assert_string_equal(r.body, "deferred /defer query=last=1");
        resp_done(&r);
        conn_close(c);
        conn_close(other);
        state_free(t);

        /* Without allow_deferred, a handler answers itself. */
        t = state_new();
        s = start(t, (HttpServerConfig){});
        request(http_server_port(s), "GET /defer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
        assert_string_equal(r.body, "not deferred");
        resp_done(&r);
        http_server_stop(s, 1000);
        state_free(t);
}

typedef struct Stopper {
        HttpServer *server;
        int done; /* atomic */
} Stopper;

static void *stopper_run(void *p)
{
        Stopper *st = p;
        http_server_stop(st->server, 60000);
        __atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static void test_stop_refuses_new_clients(void **state)
{
        TestState *t = state_new();
        HttpServer *s = start(t, (HttpServerConfig){ .threads = 2 });
        uint16_t port = http_server_port(s);
        SlowClient sc = { .port = port, .r = -1 };
        Stopper st = { .server = s };
        pthread_t client, stopper;
        bool refused = false;
        int fd;

        t->slow_wait = true;
        assert_int_equal(pthread_create(&client, NULL, slow_client_run, &sc), 0);
        while (sem_wait(&t->slow_entered) < 0)
                assert_int_equal(errno, EINTR);
        assert_int_equal(pthread_create(&stopper, NULL, stopper_run, &st), 0);

        /* While the slow request is held in the handler, the server drains: new clients are refused. */
        for (int i = 0; i < 2000 && !refused; i++) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
                fd = connect_to(port);
                if (fd == -ECONNREFUSED)
                        refused = true;
                else {
                        if (fd >= 0)
                                close(fd);
                        nanosleep(&ts, NULL);
                }
        }
        assert_true(refused);
        assert_int_equal(__atomic_load_n(&st.done, __ATOMIC_ACQUIRE), 0);

        /* Let the request finish: it is answered, then the stop completes. */
        sem_post(&t->slow_release);
        pthread_join(client, NULL);
        pthread_join(stopper, NULL);
        assert_int_equal(sc.r, 0);
        assert_int_equal(sc.status, 200);
        assert_string_equal(sc.body, "slow done");
        state_free(t);
}

static void test_dual_stack(void **state)
{
        TestState *t = state_new();
        HttpServerConfig c = { .address = "::", .handler = handler, .userdata = t };
        HttpServer *s = NULL;
        Error e = {};
        Resp r;
        int k;

        k = http_server_start(&c, &s, &e);
        if (k == -EAFNOSUPPORT || k == -EADDRNOTAVAIL) {
                state_free(t);
                skip(); /* no IPv6 in this environment */
        }
        assert_int_equal(k, 0);
        /* An IPv4 client of a dual-stack socket shows as plain IPv4. */
        request(http_server_port(s), "GET /d HTTP/1.0\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "method=GET path=/d query= peer=127.0.0.1 x-test=n/a body=");
        resp_done(&r);
        http_server_stop(s, 1000);
        state_free(t);
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        char *d;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        d = calloc(1, (size_t)n + 1);
        assert_non_null(d);
        assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        return d;
}

static void test_tls(void **state)
{
        char dir[] = "/tmp/upkeep-tls-XXXXXX", cmd[1024], cert_path[128], key_path[128], url[128];
        char *cert, *key;
        TestState *t;
        HttpServer *s = NULL;
        HttpClient *client = NULL;
        HttpResponse resp;
        Error e = {};
        int k;

        if (system("command -v openssl >/dev/null 2>&1") != 0)
                skip(); /* no openssl CLI to make a certificate */
        assert_non_null(mkdtemp(dir));
        snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
        snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
        snprintf(
                cmd, sizeof(cmd),
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
                key_path, cert_path);
        assert_int_equal(system(cmd), 0);
        cert = read_file(cert_path);
        key = read_file(key_path);

        t = state_new();
        HttpServerConfig c = { .address = "127.0.0.1",
                               .handler = handler,
                               .userdata = t,
                               .tls_cert_pem = cert,
                               .tls_key_pem = key };
        k = http_server_start(&c, &s, &e);
        if (k == -EOPNOTSUPP) {
                /* libmicrohttpd without TLS: the error says so. */
                assert_non_null(strstr(e.message, "TLS"));
                free(cert);
                free(key);
                state_free(t);
                skip();
        }
        assert_int_equal(k, 0);

        assert_int_equal(http_client_new(&(HttpClientOptions){ .ca_file = cert_path }, &client), 0);
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/blob", http_server_port(s));
        assert_int_equal(http_client_request(client, "GET", url, NULL, NULL, 0, &resp, &e), 0);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.body, "the cached graph");
        http_response_done(&resp);
        /* Again, on the kept-alive TLS connection. */
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/x?y", http_server_port(s));
        assert_int_equal(http_client_request(client, "POST", url, NULL, "tls", 3, &resp, &e), 0);
        assert_string_equal(resp.body, "method=POST path=/x query=y peer=127.0.0.1 x-test=n/a body=tls");
        http_response_done(&resp);
        http_client_free(client);

        /* Without the CA, the client refuses the self-signed certificate. */
        assert_int_equal(http_client_new(NULL, &client), 0);
        assert_true(http_client_request(client, "GET", url, NULL, NULL, 0, &resp, &e) < 0);
        http_client_free(client);

        http_server_stop(s, 1000);
        state_free(t);
        free(cert);
        free(key);
        unlink(cert_path);
        unlink(key_path);
        rmdir(dir);
}

/* ---- the connection guard (http-guard.h) ---- */

static struct sockaddr_storage sa4(const char *a)
{
        struct sockaddr_storage ss = {};
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
        return ss;
}

static struct sockaddr_storage sa6(const char *a)
{
        struct sockaddr_storage ss = {};
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
        return ss;
}

static uint64_t key_of(struct sockaddr_storage ss)
{
        uint64_t k = 0;

        assert_true(http_guard_addr_key((struct sockaddr *)&ss, &k));
        return k;
}

static void test_guard_address_keys(void **state)
{
        struct sockaddr_storage un = { .ss_family = AF_UNIX };
        uint64_t k;

        /* IPv4, and IPv4 seen through a dual-stack socket, are the same client */
        assert_true(key_of(sa4("192.0.2.7")) == key_of(sa6("::ffff:192.0.2.7")));
        assert_true(key_of(sa4("192.0.2.7")) != key_of(sa4("192.0.2.8")));
        /* IPv6: one /64 is one client */
        assert_true(key_of(sa6("2001:db8:1:2::1")) == key_of(sa6("2001:db8:1:2:ffff:1:2:3")));
        assert_true(key_of(sa6("2001:db8:1:2::1")) != key_of(sa6("2001:db8:1:3::1")));
        /* IPv4 keys are in ff00::/8, multicast, never a client's source address */
        assert_true(key_of(sa4("192.0.2.7")) >> 56 == 0xff);
        assert_true(key_of(sa6("2001:db8::1")) >> 56 != 0xff);
        assert_false(http_guard_addr_key((struct sockaddr *)&un, &k));
        /* the host's own loopback address is not limited (a local proxy); the rest of 127/8 is */
        un = sa4("127.0.0.1");
        assert_false(http_guard_addr_key((struct sockaddr *)&un, &k));
        un = sa6("::1");
        assert_false(http_guard_addr_key((struct sockaddr *)&un, &k));
        un = sa6("::ffff:127.0.0.1");
        assert_false(http_guard_addr_key((struct sockaddr *)&un, &k));
        assert_true(key_of(sa4("127.0.0.2")) != key_of(sa4("127.1.0.1")));
        assert_false(http_guard_addr_key(NULL, &k));
}

static void test_guard_address_text(void **state)
{
        struct sockaddr_storage ss;
        char buf[INET6_ADDRSTRLEN];

        ss = sa4("192.0.2.7");
        http_guard_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        assert_string_equal(buf, "192.0.2.7");
        ss = sa6("::ffff:192.0.2.7"); /* an IPv4 client of a dual-stack socket */
        http_guard_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        assert_string_equal(buf, "192.0.2.7");
        ss = sa6("2001:db8::1");
        http_guard_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8::1");
        ss = (struct sockaddr_storage){ .ss_family = AF_UNIX };
        http_guard_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        assert_string_equal(buf, "");
        http_guard_addr_format(NULL, buf, sizeof(buf));
        assert_string_equal(buf, "");
}

/* Whether the peer of a guarded socket sees it shut down within ms. */
static bool peer_cut(int peer, int ms)
{
        struct pollfd p = { .fd = peer, .events = POLLIN };
        char c;

        return poll(&p, 1, ms) == 1 && read(peer, &c, 1) == 0;
}

static void test_guard_per_address(void **state)
{
        enum { N = 600 };
        struct sockaddr_storage a = sa4("10.0.0.1"), b = sa6("2001:db8::1");
        static GuardConn many[N];
        GuardConn c[3];
        int sv[3][2];
        HttpGuard g;

        assert_int_equal(http_guard_init(&g, 1000, 2, 60), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
        assert_true(http_guard_accept(&g, (struct sockaddr *)&a));
        http_guard_open(&g, &c[0], sv[0][0], (struct sockaddr *)&a);
        assert_true(http_guard_accept(&g, (struct sockaddr *)&a));
        http_guard_open(&g, &c[1], sv[1][0], (struct sockaddr *)&a);
        /* at the limit: refused at accept; one that got past accept anyway is shut down at open */
        assert_false(http_guard_accept(&g, (struct sockaddr *)&a));
        assert_true(http_guard_accept(&g, (struct sockaddr *)&b));
        http_guard_open(&g, &c[2], sv[2][0], (struct sockaddr *)&a);
        assert_int_equal(http_guard_count(&g, (struct sockaddr *)&a), 3);
        assert_true(peer_cut(sv[2][1], 0));
        assert_false(peer_cut(sv[0][1], 0));
        assert_false(peer_cut(sv[1][1], 0));
        http_guard_close(&g, &c[2]);
        http_guard_close(&g, &c[0]);
        assert_int_equal(http_guard_count(&g, (struct sockaddr *)&a), 1);
        assert_true(http_guard_accept(&g, (struct sockaddr *)&a));
        http_guard_close(&g, &c[1]);
        assert_int_equal(http_guard_count(&g, (struct sockaddr *)&a), 0);
        assert_int_equal(g.used, 0);

        /* Many addresses (probe chains, deletions in any order): every count stays exact. */
        for (int i = 0; i < N; i++) {
                struct sockaddr_storage x = sa4("10.1.0.0");

                ((struct sockaddr_in *)&x)->sin_addr.s_addr = htonl(0x0a010000 + (uint32_t)(i / 2));
                http_guard_open(&g, &many[i], -1, (struct sockaddr *)&x);
        }
        assert_int_equal(g.used, N / 2);
        for (int i = 0; i < N; i += 3) {
                http_guard_close(&g, &many[i]);
                many[i].counted = false;
        }
        for (int i = 0; i < N / 2; i++) {
                struct sockaddr_storage x = sa4("10.1.0.0");
                /* address i had connections 2i and 2i + 1; those whose index is a multiple of 3 closed */
                unsigned want = ((2 * i) % 3 != 0) + ((2 * i + 1) % 3 != 0);

                ((struct sockaddr_in *)&x)->sin_addr.s_addr = htonl(0x0a010000 + (uint32_t)i);
                assert_int_equal(http_guard_count(&g, (struct sockaddr *)&x), want);
        }
        for (int i = 0; i < N; i++)
                if (many[i].counted)
                        http_guard_close(&g, &many[i]);
        assert_int_equal(g.used, 0);
        http_guard_done(&g);
        for (int i = 0; i < 3; i++) {
                close(sv[i][0]);
                close(sv[i][1]);
        }
}

static void test_guard_deadline(void **state)
{
        struct sockaddr_storage a = sa4("10.0.0.1");
        GuardConn slow, quick;
        int s1[2], s2[2];
        HttpGuard g;

        assert_int_equal(http_guard_init(&g, 16, 32, 1), 0);
        assert_int_equal(http_guard_start(&g), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
        http_guard_open(&g, &slow, s1[0], (struct sockaddr *)&a);
        http_guard_open(&g, &quick, s2[0], (struct sockaddr *)&a);
        /* quick's request is in: no deadline until its answer is sent */
        http_guard_received(&g, &quick);
        assert_false(peer_cut(s1[1], 700));
        assert_true(peer_cut(s1[1], 1500));
        assert_false(peer_cut(s2[1], 0));
        /* the answer went out: the next request has a second again */
        http_guard_rearm(&g, &quick);
        assert_false(peer_cut(s2[1], 700));
        assert_true(peer_cut(s2[1], 1500));
        http_guard_close(&g, &slow);
        http_guard_close(&g, &quick);
        http_guard_done(&g);
        close(s1[0]);
        close(s1[1]);
        close(s2[0]);
        close(s2[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_errors),
                cmocka_unit_test(test_port_in_use),
                cmocka_unit_test(test_get_query_path),
                cmocka_unit_test(test_post_body),
                cmocka_unit_test(test_replies),
                cmocka_unit_test(test_header_cap),
                cmocka_unit_test(test_many_args),
                cmocka_unit_test(test_smuggling),
                cmocka_unit_test(test_body_cap),
                cmocka_unit_test(test_idle_timeout),
                cmocka_unit_test(test_keep_alive),
                cmocka_unit_test(test_concurrent_one_thread),
                cmocka_unit_test(test_concurrent_pool),
                cmocka_unit_test(test_many_ready_at_once),
                cmocka_unit_test(test_graceful_stop),
                cmocka_unit_test(test_deferred),
                cmocka_unit_test(test_stop_refuses_new_clients),
                cmocka_unit_test(test_dual_stack),
                cmocka_unit_test(test_tls),
                cmocka_unit_test(test_guard_address_keys),
                cmocka_unit_test(test_guard_address_text),
                cmocka_unit_test(test_guard_per_address),
                cmocka_unit_test(test_guard_deadline),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

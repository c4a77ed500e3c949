/* test-http-client.c — unit tests for the libcurl client adapter, against the project's own HTTP server
 * adapter and, where the bytes on the wire matter (no Content-Length, no answer, counting connections),
 * a tiny raw-socket server thread. Everything listens on 127.0.0.1 port 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zlib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http-client.h"
#include "http-server.h"
#include "macros.h"
#include "strutil.h"

/* ---- a server built on the project's adapter ---- */

/* n zero bytes, gzipped (they shrink about 1000-fold: a small answer that decodes to a large body). */
static int gzip_of_zeros(size_t n, char **ret, size_t *ret_len)
{
        z_stream z = {};
        size_t cap = n / 500 + 1024;
        unsigned char *in = calloc(1, n + 1), *out = malloc(cap);
        int r = -EIO;

        if (in && out && deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
                z.next_in = in;
                z.avail_in = (uInt)n;
                z.next_out = out;
                z.avail_out = (uInt)cap;
                if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
                        *ret = (char *)out;
                        *ret_len = z.total_out;
                        out = NULL;
                        r = 0;
                }
                deflateEnd(&z);
        }
        free(in);
        free(out);
        return r;
}

static int handler(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        Buf b = BUF_INIT(64 * 1024 * 1024);
        uint64_t n;
        int r = 0;

        if (streq(req->path, "/ok")) {
                reply->status = 200;
                reply->content_type = "text/plain";
                reply->owned = strdup("hello");
                reply->owned_len = 5;
                return reply->owned ? 0 : -ENOMEM;
        }
        if (streq(req->path, "/big")) {
                /* query: the body size */
                if (safe_atou64(req->query, &n) < 0)
                        return http_reply_error(reply, 400, "bad_request", "size");
                reply->owned = malloc(n + 1);
                if (!reply->owned)
                        return -ENOMEM;
                memset(reply->owned, 'x', n);
                reply->owned_len = n;
                reply->status = 200;
                return 0;
        }
        if (startswith(req->path, "/r/")) {
                /* /r/N redirects N times before landing. */
                static const char *const targets[] = {
                        "/r/0", "/r/1", "/r/2", "/r/3", "/r/4", "/r/5", "/r/6"
                };
                if (safe_atou64(req->path + 3, &n) < 0 || n >= ELEMENTSOF(targets))
                        return http_reply_error(reply, 400, "bad_request", "n");
                if (n == 0) {
                        reply->status = 200;
                        reply->owned = strdup("landed");
                        reply->owned_len = 6;
                        return reply->owned ? 0 : -ENOMEM;
                }
                reply->status = 302;
                return http_reply_add_header(reply, "Location", targets[n - 1]);
        }
        if (streq(req->path, "/gzip")) {
                /* query: the decoded size; gzip only when the client offers it */
                const char *ae = http_request_header(req, "Accept-Encoding");
                if (safe_atou64(req->query, &n) < 0 || n > 8 * 1024 * 1024)
                        return http_reply_error(reply, 400, "bad_request", "size");
                reply->status = 200;
                if (!ae || !strstr(ae, "gzip")) {
                        reply->owned = strdup("identity");
                        reply->owned_len = 8;
                        return reply->owned ? 0 : -ENOMEM;
                }
                r = gzip_of_zeros(n, &reply->owned, &reply->owned_len);
                return r < 0 ? r : http_reply_add_header(reply, "Content-Encoding", "gzip");
        }
        if (streq(req->path, "/to-file")) {
                reply->status = 302;
                return http_reply_add_header(reply, "Location", "file:///etc/passwd");
        }
        if (streq(req->path, "/echo")) {
                r = buf_printf(&b, "%s|%s|%s|%s|", req->method,
                               strna(http_request_header(req, "Content-Type")),
                               strna(http_request_header(req, "User-Agent")),
                               strna(http_request_header(req, "X-Test")));
                if (r >= 0 && req->body)
                        r = buf_append(&b, req->body, req->body_len);
                if (r < 0) {
                        buf_free(&b);
                        return r;
                }
                reply->status = 200;
                reply->content_type = "text/plain";
                reply->owned = buf_steal(&b, &reply->owned_len);
                return 0;
        }
        return http_reply_error(reply, 404, "not_found", req->path);
}

static HttpServer *server;

static int group_setup(void **state)
{
        HttpServerConfig c = { .address = "127.0.0.1", .max_body_bytes = 1024 * 1024, .handler = handler };
        Error e;

        return http_server_start(&c, &server, &e) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
        http_server_stop(server, 1000);
        return 0;
}

static void url_for(char *buf, size_t n, const char *path)
{
        snprintf(buf, n, "http://127.0.0.1:%u%s", http_server_port(server), path);
}

static HttpClient *client(HttpClientOptions o)
{
        HttpClient *c = NULL;
        assert_int_equal(http_client_new(&o, &c), 0);
        assert_non_null(c);
        return c;
}

/* ---- a raw socket server ---- */

typedef enum RawMode {
        RAW_SILENT,    /* listens, never accepts, never answers */
        RAW_STREAM,    /* answers with a body of stream_bytes and no Content-Length */
        RAW_KEEPALIVE, /* answers every request on a connection with "ok" */
} RawMode;

typedef struct RawServer {
        int fd;
        uint16_t port;
        RawMode mode;
        size_t stream_bytes;
        pthread_t thread;
        int stop;          /* atomic */
        unsigned accepts;  /* atomic */
        unsigned requests; /* atomic */
} RawServer;

static int listen_any(uint16_t *ret_port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t l = sizeof(sa);
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static bool write_all(int fd, const void *p, size_t n)
{
        const char *d = p;
        while (n > 0) {
                ssize_t k = send(fd, d, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                d += k;
                n -= (size_t)k;
        }
        return true;
}

static void raw_serve(RawServer *rs, int fd)
{
        char buf[8192];
        size_t len = 0;

        for (;;) {
                char *end = memmem(buf, len, "\r\n\r\n", 4);
                ssize_t k;

                if (end) {
                        size_t used = (size_t)(end - buf) + 4;

                        __atomic_add_fetch(&rs->requests, 1, __ATOMIC_RELAXED);
                        memmove(buf, buf + used, len - used);
                        len -= used;
                        if (rs->mode == RAW_STREAM) {
                                static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                                           "Connection: close\r\n\r\n";
                                char chunk[4096];

                                memset(chunk, 'y', sizeof(chunk));
                                if (!write_all(fd, head, sizeof(head) - 1))
                                        return;
                                for (size_t sent = 0; sent < rs->stream_bytes; sent += sizeof(chunk))
                                        if (!write_all(fd, chunk,
                                                       MIN(sizeof(chunk), rs->stream_bytes - sent)))
                                                return;
                                return;
                        }
                        if (!write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40))
                                return;
                        continue;
                }
                if (len == sizeof(buf))
                        return;
                k = recv(fd, buf + len, sizeof(buf) - len, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                len += (size_t)k;
        }
}

static void *raw_run(void *p)
{
        RawServer *rs = p;

        while (!__atomic_load_n(&rs->stop, __ATOMIC_ACQUIRE)) {
                struct pollfd pfd = { .fd = rs->fd, .events = POLLIN };
                struct timeval tv = { .tv_sec = 20 };
                int cfd;

                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                cfd = accept4(rs->fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                __atomic_add_fetch(&rs->accepts, 1, __ATOMIC_RELAXED);
                setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                raw_serve(rs, cfd);
                close(cfd);
        }
        return NULL;
}

static void raw_start(RawServer *rs, RawMode mode, size_t stream_bytes)
{
        *rs = (RawServer){ .mode = mode, .stream_bytes = stream_bytes };
        rs->fd = listen_any(&rs->port);
        if (mode != RAW_SILENT)
                assert_int_equal(pthread_create(&rs->thread, NULL, raw_run, rs), 0);
}

static void raw_stop(RawServer *rs)
{
        __atomic_store_n(&rs->stop, 1, __ATOMIC_RELEASE);
        if (rs->mode != RAW_SILENT)
                pthread_join(rs->thread, NULL);
        close(rs->fd);
}

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_ok_and_404(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        HttpResponse r = {};
        Error e = {};
        char url[128];

        url_for(url, sizeof(url), "/ok");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 5);
        assert_string_equal(r.body, "hello");
        assert_string_equal(r.content_type, "text/plain");
        http_response_done(&r);
        assert_null(r.body);

        url_for(url, sizeof(url), "/missing");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.content_type, "application/json");
        assert_string_equal(r.body, "{\"kind\":\"not_found\",\"value\":\"/missing\"}");
        http_response_done(&r);

        /* A response without body or Content-Type. */
        url_for(url, sizeof(url), "/big?0");
        assert_int_equal(http_client_request(c, NULL, url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        assert_string_equal(r.body, "");
        assert_null(r.content_type);
        http_response_done(&r);

        http_client_free(c);
        assert_null(http_client_free(NULL));
        http_response_done(NULL);
}

static void test_body_cap(void **state)
{
        HttpClient *c = client((HttpClientOptions){ .max_body_bytes = 1000 });
        HttpResponse r = { .status = 77 };
        RawServer rs;
        Error e = {};
        char url[128];

        url_for(url, sizeof(url), "/big?1000");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.body_len, 1000);
        http_response_done(&r);

        /* Announced by Content-Length: refused up front. */
        r = (HttpResponse){ .status = 77 };
        url_for(url, sizeof(url), "/big?1001");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -EFBIG);
        assert_int_equal(r.status, 77); /* untouched on failure */
        assert_non_null(strstr(e.message, "1000"));
        assert_non_null(strstr(e.message, url));

        /* No Content-Length: counted as it arrives. */
        raw_start(&rs, RAW_STREAM, 1024 * 1024);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/stream", rs.port);
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -EFBIG);
        assert_non_null(strstr(e.message, "exceeds"));
        raw_stop(&rs);

        /* Within the cap, without Content-Length. */
        raw_start(&rs, RAW_STREAM, 999);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/stream", rs.port);
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.body_len, 999);
        http_response_done(&r);
        raw_stop(&rs);

        /* The handle is still good. */
        url_for(url, sizeof(url), "/ok");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_string_equal(r.body, "hello");
        http_response_done(&r);
        http_client_free(c);

        /* A large body under the default cap. */
        c = client((HttpClientOptions){});
        url_for(url, sizeof(url), "/big?3000000");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.body_len, 3000000);
        assert_int_equal(r.body[2999999], 'x');
        assert_int_equal(r.body[3000000], 0);
        http_response_done(&r);
        http_client_free(c);
}

static void test_connection_refused(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        HttpResponse r;
        Error e = {};
        uint16_t port;
        char url[128];
        int fd;

        fd = listen_any(&port);
        close(fd);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -ECONNREFUSED);
        assert_non_null(strstr(e.message, url));
        http_client_free(c);
}

static void test_timeout(void **state)
{
        HttpClient *c = client((HttpClientOptions){ .total_timeout_ms = 500 });
        HttpResponse r;
        RawServer rs;
        Error e = {};
        char url[128];
        double t0, dt;

        raw_start(&rs, RAW_SILENT, 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/never", rs.port);
        t0 = now_sec();
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -ETIMEDOUT);
        dt = now_sec() - t0;
        assert_true(dt >= 0.4);
        assert_true(dt < 15);
        assert_non_null(strstr(e.message, url));
        raw_stop(&rs);
        http_client_free(c);
}

static void test_redirects(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        HttpResponse r;
        Error e = {};
        char url[128];

        /* The default limit is 3. */
        url_for(url, sizeof(url), "/r/3");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "landed");
        http_response_done(&r);
        url_for(url, sizeof(url), "/r/4");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -EPROTO);

        /* Never to another scheme. */
        url_for(url, sizeof(url), "/to-file");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -EINVAL);
        http_client_free(c);

        c = client((HttpClientOptions){ .max_redirects = 1 });
        url_for(url, sizeof(url), "/r/1");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_string_equal(r.body, "landed");
        http_response_done(&r);
        url_for(url, sizeof(url), "/r/2");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), -EPROTO);
        http_client_free(c);

        /* -1: redirects are returned, not followed. */
        c = client((HttpClientOptions){ .max_redirects = -1 });
        url_for(url, sizeof(url), "/r/1");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 302);
        http_response_done(&r);
        http_client_free(c);

        assert_int_equal(http_client_new(&(HttpClientOptions){ .max_redirects = -2 }, &c), -EINVAL);
}

static void test_bad_urls(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        HttpResponse r;
        Error e = {};

        assert_int_equal(http_client_request(c, "GET", "file:///etc/passwd", NULL, NULL, 0, &r, &e),
                         -EINVAL);
        assert_non_null(strstr(e.message, "file:///etc/passwd"));
        assert_int_equal(http_client_request(c, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, &r, &e), -EINVAL);
        assert_int_equal(http_client_request(c, "GET", "not a url", NULL, NULL, 0, &r, &e), -EINVAL);
        assert_int_equal(http_client_request(c, "GET", "http://[::1", NULL, NULL, 0, &r, &e), -EINVAL);
        assert_int_equal(http_client_request(c, "GE T", "http://127.0.0.1/", NULL, NULL, 0, &r, &e),
                         -EINVAL);
        /* Credentials stay out of messages. */
        assert_int_equal(http_client_request(c, "GET", "gopher://user:secret@host/", NULL, NULL, 0, &r, &e),
                         -EINVAL);
        assert_null(strstr(e.message, "secret"));
        http_client_free(c);
}

static void test_methods(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        const char *json_headers[] = { "Content-Type: application/json", "X-Test: yes", NULL };
        HttpResponse r;
        Error e = {};
        char url[128], expect[256];

        url_for(url, sizeof(url), "/echo");

        /* POST without a Content-Type from the caller sends none. */
        assert_int_equal(http_client_request(c, "POST", url, NULL, "hello world", 11, &r, &e), 0);
        snprintf(expect, sizeof(expect), "POST|n/a|upkeep/%s|n/a|hello world", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        assert_int_equal(http_client_request(c, "POST", url, json_headers, "{}", 2, &r, &e), 0);
        snprintf(expect, sizeof(expect), "POST|application/json|upkeep/%s|yes|{}", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        /* A GET after a POST on the same handle carries no body. */
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        snprintf(expect, sizeof(expect), "GET|n/a|upkeep/%s|n/a|", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        assert_int_equal(http_client_request(c, "PUT", url, json_headers, "[1]", 3, &r, &e), 0);
        snprintf(expect, sizeof(expect), "PUT|application/json|upkeep/%s|yes|[1]", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        /* An empty POST. */
        assert_int_equal(http_client_request(c, "POST", url, NULL, NULL, 0, &r, &e), 0);
        snprintf(expect, sizeof(expect), "POST|n/a|upkeep/%s|n/a|", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        assert_int_equal(http_client_request(c, "DELETE", url, NULL, NULL, 0, &r, &e), 0);
        snprintf(expect, sizeof(expect), "DELETE|n/a|upkeep/%s|n/a|", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);

        /* HEAD: status only. */
        assert_int_equal(http_client_request(c, "HEAD", url, NULL, NULL, 0, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        http_response_done(&r);

        /* And a GET again after the DELETE and HEAD. */
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        snprintf(expect, sizeof(expect), "GET|n/a|upkeep/%s|n/a|", UPKEEP_VERSION);
        assert_string_equal(r.body, expect);
        http_response_done(&r);
        http_client_free(c);

        /* A custom user agent. */
        c = client((HttpClientOptions){ .user_agent = "probe/1" });
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
        assert_string_equal(r.body, "GET|n/a|probe/1|n/a|");
        http_response_done(&r);
        http_client_free(c);
}

/* accept_encoding: the answer is decoded, and max_body_bytes caps the decoded body (a compression bomb). */
static void test_accept_encoding(void **state)
{
        HttpClient *c = client((HttpClientOptions){ .accept_encoding = "gzip", .max_body_bytes = 100000 });
        HttpClient *plain = client((HttpClientOptions){ .max_body_bytes = 100000 });
        HttpResponse resp = {};
        char url[128];
        Error e = {};

        url_for(url, sizeof url, "/gzip?50000");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &resp, &e), 0);
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.body_len, 50000);
        for (size_t i = 0; i < resp.body_len; i++)
                assert_int_equal(resp.body[i], 0);
        http_response_done(&resp);
        /* a client that does not offer gzip gets identity */
        assert_int_equal(http_client_request(plain, "GET", url, NULL, NULL, 0, &resp, &e), 0);
        assert_string_equal(resp.body, "identity");
        http_response_done(&resp);
        /* 2 MB of zeros in about 2 KB: refused at the decoded cap */
        url_for(url, sizeof url, "/gzip?2000000");
        assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &resp, &e), -EFBIG);
        http_client_free(c);
        http_client_free(plain);
}

static void test_keep_alive(void **state)
{
        HttpClient *c = client((HttpClientOptions){});
        HttpResponse r;
        RawServer rs;
        Error e = {};
        char url[128];

        raw_start(&rs, RAW_KEEPALIVE, 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/k", rs.port);
        for (int i = 0; i < 5; i++) {
                assert_int_equal(http_client_request(c, "GET", url, NULL, NULL, 0, &r, &e), 0);
                assert_int_equal(r.status, 200);
                assert_string_equal(r.body, "ok");
                http_response_done(&r);
        }
        http_client_free(c);
        raw_stop(&rs);
        assert_int_equal(rs.requests, 5);
        assert_int_equal(rs.accepts, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ok_and_404),
                cmocka_unit_test(test_body_cap),
                cmocka_unit_test(test_connection_refused),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_redirects),
                cmocka_unit_test(test_bad_urls),
                cmocka_unit_test(test_methods),
                cmocka_unit_test(test_keep_alive),
                cmocka_unit_test(test_accept_encoding),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

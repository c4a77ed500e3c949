/* test-etcd-http.c — the etcd client's transport over a libcurl loaded at run time (etcd-http.c): a POST to
 * a one-shot loopback server (the request line, the JSON Content-Type, the body, keep-alive on one
 * connection), the body cap, a refused connection; and, in a child process (the load's outcome is kept for
 * the process), a missing library: -ELIBACC with a message naming it, from etcd_new() too. The etcd protocol
 * on top is tested against a real etcd in test-etcd.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd-http.h"
#include "etcd.h"
#include "macros.h"

/* A loopback server that answers `requests` requests on ONE connection with `reply`, keeping what it read.
 */
typedef struct Server {
        int fd;
        int port;
        int requests;
        const char *reply;
        char got[8192];
        size_t got_len;
        int connections;
        pthread_t thread;
} Server;

/* Reads one request (headers, then Content-Length bytes) into s->got; false at EOF. */
static bool read_request(Server *s, int c)
{
        size_t start = s->got_len;

        for (;;) {
                char *end;
                ssize_t n;

                s->got[s->got_len] = 0;
                end = strstr(s->got + start, "\r\n\r\n");
                if (end) {
                        const char *cl = strcasestr(s->got + start, "Content-Length:");
                        size_t want = (size_t)(end + 4 - s->got) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
                        if (s->got_len >= want)
                                return true;
                }
                if (s->got_len + 1 >= sizeof(s->got))
                        return false;
                n = read(c, s->got + s->got_len, sizeof(s->got) - 1 - s->got_len);
                if (n <= 0)
                        return false;
                s->got_len += (size_t)n;
        }
}

static void *serve(void *userdata)
{
        Server *s = userdata;
        int c = accept(s->fd, NULL, NULL);

        if (c < 0)
                return NULL;
        s->connections++;
        for (int i = 0; i < s->requests && read_request(s, c); i++)
                if (write(c, s->reply, strlen(s->reply)) < 0)
                        break;
        close(c);
        return NULL;
}

static void server_start(Server *s, const char *reply, int requests)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);

        *s = (Server){ .reply = reply, .requests = requests };
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s->fd, 4), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &l), 0);
        s->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(Server *s)
{
        pthread_join(s->thread, NULL);
        close(s->fd);
}

static const EtcdHttpOptions options = {
        .connect_timeout_ms = 5000,
        .total_timeout_ms = 5000,
        .max_body_bytes = 64,
};

static void test_post(void **state)
{
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\":\"ok\"}\n";
        EtcdHttp *h = NULL;
        EtcdHttpResponse r = {};
        Server s;
        char url[64];
        Error e = {};

        server_start(&s, reply, 2);
        assert_int_equal(etcd_http_new(&options, &h, &e), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3/kv/range", s.port);
        assert_int_equal(etcd_http_post(h, url, "{\"key\":\"a2V5\"}", 14, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 11);
        assert_string_equal(r.body, "{\"a\":\"ok\"}\n");
        etcd_http_response_done(&r);
        /* the second request goes over the same connection */
        assert_int_equal(etcd_http_post(h, url, "{}", 2, &r, &e), 0);
        assert_int_equal(r.status, 200);
        etcd_http_response_done(&r);
        etcd_http_free(h);
        server_stop(&s);

        assert_int_equal(s.connections, 1);
        assert_non_null(strstr(s.got, "POST /v3/kv/range HTTP/1.1\r\n"));
        assert_non_null(strcasestr(s.got, "\r\nContent-Type: application/json\r\n"));
        assert_null(strcasestr(s.got, "Expect:"));
        assert_non_null(strstr(s.got, "\r\n\r\n{\"key\":\"a2V5\"}"));
        assert_non_null(strstr(s.got, "\r\n\r\n{}"));
}

static void test_body_cap(void **state)
{
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n"
                                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        EtcdHttp *h = NULL;
        EtcdHttpResponse r = {};
        Server s;
        char url[64];
        Error e = {};

        server_start(&s, reply, 1);
        assert_int_equal(etcd_http_new(&options, &h, &e), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3/kv/range", s.port);
        assert_int_equal(etcd_http_post(h, url, "{}", 2, &r, &e), -EFBIG);
        assert_non_null(strstr(e.message, "64 bytes"));
        assert_null(r.body);
        etcd_http_free(h);
        server_stop(&s);
}

static void test_refused(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EtcdHttp *h = NULL;
        EtcdHttpResponse r = {};
        char url[64];
        Error e = {};

        /* a port that was just free: bound, not listening */
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3/kv/put", ntohs(sa.sin_port));
        assert_int_equal(etcd_http_new(&options, &h, &e), 0);
        assert_int_equal(etcd_http_post(h, url, "{}", 2, &r, &e), -ECONNREFUSED);
        assert_non_null(strstr(e.message, url));
        etcd_http_free(h);
        close(fd);
}

/* In a child: the outcome of the first load is kept for the process. */
static int missing_library_child(void)
{
        const char *endpoints[] = { "http://127.0.0.1:2379" };
        EtcdOptions o = { .endpoints = endpoints, .n_endpoints = 1 };
        Etcd *c = NULL;
        Error e = {};

        if (etcd_http_load("libupkeep-no-such-curl.so.4", &e) != -ELIBACC ||
            !strstr(e.message, "libupkeep-no-such-curl.so.4") || !strstr(e.message, "etcd"))
                return 1;
        e = (Error){};
        if (etcd_new(&o, &c, &e) != -ELIBACC || c || !strstr(e.message, "libupkeep-no-such-curl.so.4"))
                return 2;
        return 0;
}

static void test_missing_library(void **state)
{
        int status = 0;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(missing_library_child());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_library),
                cmocka_unit_test(test_post),
                cmocka_unit_test(test_body_cap),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

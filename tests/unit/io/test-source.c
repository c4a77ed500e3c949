/* test-source.c — unit tests for src/io/source.c: documents from a file or an http(s) URL, size caps,
 * HTTP errors, and messages naming the source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http-client.h"
#include "http-server.h"
#include "source.h"

static int serve(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        if (strcmp(req->path, "/ok.json") == 0) {
                reply->status = 200;
                reply->content_type = "application/json";
                reply->owned = strdup("{\"a\":1}");
                reply->owned_len = 7;
                return 0;
        }
        if (strcmp(req->path, "/big.json") == 0) {
                reply->status = 200;
                reply->owned = calloc(1, 5000);
                memset(reply->owned, 'x', 4999);
                reply->owned_len = 4999;
                return 0;
        }
        return http_reply_error(reply, 500, "boom", "broken");
}

static void test_source_url(void **state)
{
        HttpServerConfig cfg = { .address = "127.0.0.1", .port = 0, .handler = serve };
        HttpClientOptions o = { .max_body_bytes = 1000 };
        HttpServer *s = NULL;
        HttpClient *c = NULL;
        Error e = { { 0 } };
        char url[128], *data = NULL;
        size_t len;

        assert_int_equal(http_server_start(&cfg, &s, &e), 0);
        assert_int_equal(http_client_new(&o, &c), 0);

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok.json", http_server_port(s));
        assert_true(source_is_url(url));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), 0);
        assert_int_equal(len, 7);
        assert_string_equal(data, "{\"a\":1}");
        free(data);
        data = NULL;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/fail", http_server_port(s));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), -EPROTO);
        assert_non_null(strstr(e.message, "server answered HTTP 500"));
        assert_non_null(strstr(e.message, url));

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/big.json", http_server_port(s));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), -EFBIG);
        assert_null(data);

        assert_int_equal(source_fetch(url, NULL, 1000, &data, &len, &e), -EINVAL);
        http_client_free(c);
        http_server_stop(s, 1000);
}

static void test_source_file(void **state)
{
        char path[] = "/tmp/upkeep-src-XXXXXX";
        int fd = mkstemp(path);
        Error e = { { 0 } };
        char *data = NULL;
        size_t len;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "0123456789", 10), 10);
        close(fd);
        assert_false(source_is_url(path));
        assert_int_equal(source_fetch(path, NULL, 10, &data, &len, &e), 0);
        assert_int_equal(len, 10);
        free(data);
        data = NULL;
        assert_int_equal(source_fetch(path, NULL, 9, &data, &len, &e), -EFBIG);
        assert_non_null(strstr(e.message, "larger than the limit of 9 bytes"));
        assert_null(data);
        unlink(path);
        assert_int_equal(source_fetch(path, NULL, 9, &data, &len, &e), -ENOENT);
        assert_non_null(strstr(e.message, path));
        /* "<path>: <the error>" */
        char want[256];
        snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
        assert_string_equal(e.message, want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_source_url),
                cmocka_unit_test(test_source_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

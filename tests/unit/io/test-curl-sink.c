/* test-curl-sink.c — unit tests for src/io/curl-sink.c without any transfer: the body callback (append,
 * the cap aborting with too_big), the header callback (a new status line empties the body), the reset,
 * every branch of the CURLcode -> errno mapping, and the failure messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curl-sink.h"
#include "macros.h"

static size_t write_str(CurlSink *s, const char *text)
{
        char copy[256];

        snprintf(copy, sizeof(copy), "%s", text);
        return curl_sink_write(copy, 1, strlen(copy), s);
}

static size_t header_str(CurlSink *s, const char *text)
{
        char copy[256];

        snprintf(copy, sizeof(copy), "%s", text);
        return curl_sink_header(copy, 1, strlen(copy), s);
}

static void test_write(void **state)
{
        CurlSink s;
        char data[6] = "abcdef";

        curl_sink_init(&s, 10);
        assert_int_equal(s.body.max, 10);
        assert_false(s.too_big);
        assert_false(s.no_memory);
        assert_string_equal(s.errbuf, "");

        assert_int_equal(write_str(&s, "hello"), 5);
        /* size * nmemb bytes */
        assert_int_equal(curl_sink_write(data, 2, 2, &s), 4);
        assert_int_equal(s.body.len, 9);
        assert_memory_equal(s.body.data, "helloabcd", 10);
        assert_false(s.too_big);

        /* exactly the cap is fine */
        assert_int_equal(write_str(&s, "!"), 1);
        assert_int_equal(s.body.len, 10);
        assert_false(s.too_big);
        curl_sink_done(&s);
}

static void test_write_cap(void **state)
{
        CurlSink s;

        curl_sink_init(&s, 8);
        assert_int_equal(write_str(&s, "12345"), 5);
        /* one byte past the cap: 0 aborts the transfer, the body stays as it was */
        assert_int_equal(write_str(&s, "6789"), 0);
        assert_true(s.too_big);
        assert_false(s.no_memory);
        assert_int_equal(s.body.len, 5);
        assert_string_equal(s.body.data, "12345");
        curl_sink_done(&s);

        /* an empty write is no error */
        curl_sink_init(&s, 0);
        assert_int_equal(curl_sink_write((char *)"", 1, 0, &s), 0);
        assert_false(s.too_big);
        assert_int_equal(write_str(&s, "x"), 0);
        assert_true(s.too_big);
        curl_sink_done(&s);
}

static void test_header(void **state)
{
        CurlSink s;

        curl_sink_init(&s, 100);
        assert_int_equal(write_str(&s, "redirect page"), 13);
        /* other header lines keep the body */
        assert_int_equal(header_str(&s, "Content-Length: 13\r\n"), 20);
        assert_int_equal(header_str(&s, "HTTP\r\n"), 6);
        assert_int_equal(header_str(&s, "\r\n"), 2);
        assert_int_equal(header_str(&s, ""), 0);
        assert_int_equal(s.body.len, 13);
        /* a new status line, in any case, starts a new response */
        assert_int_equal(header_str(&s, "HTTP/1.1 200 OK\r\n"), 17);
        assert_int_equal(s.body.len, 0);
        assert_int_equal(write_str(&s, "final"), 5);
        assert_int_equal(header_str(&s, "http/2 200\r\n"), 12);
        assert_int_equal(s.body.len, 0);
        assert_string_equal(s.body.data, "");
        assert_false(s.too_big);
        curl_sink_done(&s);
}

static void test_reset(void **state)
{
        CurlSink s;

        curl_sink_init(&s, 4);
        assert_int_equal(write_str(&s, "abc"), 3);
        assert_int_equal(write_str(&s, "de"), 0);
        s.no_memory = true;
        snprintf(s.errbuf, sizeof(s.errbuf), "something went wrong");
        curl_sink_reset(&s);
        assert_int_equal(s.body.len, 0);
        assert_false(s.too_big);
        assert_false(s.no_memory);
        assert_string_equal(s.errbuf, "");
        assert_int_equal(s.body.max, 4);
        /* the cap still holds, and the sink is usable again */
        assert_int_equal(write_str(&s, "abcd"), 4);
        assert_string_equal(s.body.data, "abcd");
        curl_sink_done(&s);

        /* done on a sink that never got data */
        curl_sink_init(&s, 4);
        curl_sink_reset(&s);
        curl_sink_done(&s);
}

static void test_errno(void **state)
{
        static const struct {
                CURLcode cc;
                int r;
        } cases[] = {
                { CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT },
                { CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH },
                { CURLE_COULDNT_RESOLVE_PROXY, -EHOSTUNREACH },
                { CURLE_UNSUPPORTED_PROTOCOL, -EINVAL },
                { CURLE_URL_MALFORMAT, -EINVAL },
                { CURLE_SSL_CERTPROBLEM, -EINVAL },
                { CURLE_SSL_CACERT_BADFILE, -EINVAL },
                { CURLE_SSL_CRL_BADFILE, -EINVAL },
                { CURLE_SSL_CIPHER, -EINVAL },
                { CURLE_SSL_ENGINE_NOTFOUND, -EINVAL },
                { CURLE_TOO_MANY_REDIRECTS, -EPROTO },
                { CURLE_WEIRD_SERVER_REPLY, -EPROTO },
                { CURLE_GOT_NOTHING, -EPROTO },
                { CURLE_PARTIAL_FILE, -EPROTO },
                { CURLE_BAD_CONTENT_ENCODING, -EPROTO },
                { CURLE_HTTP2, -EPROTO },
                { CURLE_HTTP2_STREAM, -EPROTO },
                { CURLE_HTTP3, -EPROTO },
                { CURLE_SSL_CONNECT_ERROR, -EPROTO },
                { CURLE_PEER_FAILED_VERIFICATION, -EPROTO },
                { CURLE_RECV_ERROR, -EPROTO },
                { CURLE_SEND_ERROR, -EPROTO },
                { CURLE_OUT_OF_MEMORY, -ENOMEM },
                { CURLE_FAILED_INIT, -EIO },
                { CURLE_ABORTED_BY_CALLBACK, -EIO },
                { CURLE_WRITE_ERROR, -EIO },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(curl_code_errno(cases[i].cc, 0), cases[i].r);
                /* os_errno only matters for a failed connect */
                assert_int_equal(curl_code_errno(cases[i].cc, ENETUNREACH), cases[i].r);
        }

        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, EHOSTUNREACH), -EHOSTUNREACH);
        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, ENETUNREACH), -EHOSTUNREACH);
        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, ETIMEDOUT), -ETIMEDOUT);
        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, ECONNREFUSED), -ECONNREFUSED);
        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, 0), -ECONNREFUSED);
        assert_int_equal(curl_code_errno(CURLE_COULDNT_CONNECT, EACCES), -ECONNREFUSED);
}

static void test_fail_messages(void **state)
{
        CurlSink s;
        Error e = {};

        curl_sink_init(&s, 64);

        /* too big: by the callback, or refused from Content-Length */
        assert_int_equal(write_str(&s, "x"), 1);
        s.too_big = true;
        assert_int_equal(curl_sink_fail(&s, CURLE_WRITE_ERROR, 0, "Failed writing received data", "GET",
                                        "http://h/x", &e),
                         -EFBIG);
        assert_string_equal(e.message, "GET http://h/x: response body exceeds the limit of 64 bytes");
        curl_sink_reset(&s);
        assert_int_equal(curl_sink_fail(&s, CURLE_FILESIZE_EXCEEDED, 0, "Maximum file size exceeded", "POST",
                                        "http://etcd:2379/v3/kv/range", &e),
                         -EFBIG);
        assert_string_equal(
                e.message, "POST http://etcd:2379/v3/kv/range: response body exceeds the limit of 64 bytes");

        /* no memory for the body */
        s.no_memory = true;
        assert_int_equal(curl_sink_fail(&s, CURLE_WRITE_ERROR, 0, "Failed writing received data", "PUT",
                                        "http://h/y", &e),
                         -ENOMEM);
        assert_string_equal(e.message, "PUT http://h/y: out of memory");
        curl_sink_reset(&s);

        /* the error buffer, when it says more than strerror */
        snprintf(s.errbuf, sizeof(s.errbuf), "Failed to connect to h port 80: Connection refused");
        assert_int_equal(curl_sink_fail(&s, CURLE_COULDNT_CONNECT, ECONNREFUSED,
                                        "Couldn't connect to server", "GET", "http://h/", &e),
                         -ECONNREFUSED);
        assert_string_equal(e.message,
                            "GET http://h/: Couldn't connect to server (Failed to connect to h port "
                            "80: Connection refused)");
        assert_int_equal(curl_sink_fail(&s, CURLE_COULDNT_CONNECT, ENETUNREACH, "Couldn't connect to server",
                                        "GET", "http://h/", &e),
                         -EHOSTUNREACH);

        /* the error buffer saying the same, or nothing */
        snprintf(s.errbuf, sizeof(s.errbuf), "Timeout was reached");
        assert_int_equal(curl_sink_fail(&s, CURLE_OPERATION_TIMEDOUT, 0, "Timeout was reached", "GET",
                                        "http://h/", &e),
                         -ETIMEDOUT);
        assert_string_equal(e.message, "GET http://h/: Timeout was reached");
        s.errbuf[0] = 0;
        assert_int_equal(
                curl_sink_fail(&s, CURLE_GOT_NOTHING, 0, "Server returned nothing", "POST", "http://h/", &e),
                -EPROTO);
        assert_string_equal(e.message, "POST http://h/: Server returned nothing");

        /* e may be NULL */
        assert_int_equal(
                curl_sink_fail(&s, CURLE_SEND_ERROR, 0, "Failed sending data", "GET", "http://h/", NULL),
                -EPROTO);
        curl_sink_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write),  cmocka_unit_test(test_write_cap),
                cmocka_unit_test(test_header), cmocka_unit_test(test_reset),
                cmocka_unit_test(test_errno),  cmocka_unit_test(test_fail_messages),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

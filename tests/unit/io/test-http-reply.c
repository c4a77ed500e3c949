/* test-http-reply.c — unit tests for src/io/http-reply.c: JSON error bodies (escaping, invalid UTF-8
 * replaced, the cap), the ready MHD error responses' headers, replacing a reply's body, and the extra
 * headers' cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "blob.h"
#include "buf.h"
#include "http-reply.h"

static void test_reply_error_escaping(void **state)
{
        HttpReply reply = { .blob = blob_new("x", 1) };
        json_error_t je;
        json_t *j;

        /* Invalid UTF-8 is replaced so that the body is always valid JSON; the old body is dropped. */
        assert_int_equal(http_reply_error(&reply, 400, "bad\x01kind", "caf\xc3\xa9 \xff\xfe \"q\" \\"), 0);
        assert_null(reply.blob);
        assert_int_equal(reply.status, 400);
        assert_string_equal(reply.content_type, "application/json");
        j = json_loadb(reply.owned, reply.owned_len, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "kind")), "bad\x01kind");
        assert_string_equal(json_string_value(json_object_get(j, "value")), "caf\xc3\xa9 ?? \"q\" \\");
        json_decref(j);

        /* A second error replaces the first. */
        assert_int_equal(http_reply_error(&reply, 503, "busy", "later"), 0);
        assert_string_equal(reply.owned, "{\"kind\":\"busy\",\"value\":\"later\"}");
        free(reply.owned);
}

static void check_body(const char *kind, const char *value, const char *want)
{
        Buf b = BUF_INIT(1024);

        assert_int_equal(http_error_body(&b, kind, value), 0);
        assert_string_equal(b.data, want);
        buf_free(&b);
}

static void test_error_body(void **state)
{
        Buf b = BUF_INIT(20);

        check_body("k", "v", "{\"kind\":\"k\",\"value\":\"v\"}");
        check_body(NULL, NULL, "{\"kind\":\"\",\"value\":\"\"}");
        /* Valid multi-byte sequences stay (2, 3 and 4 bytes). */
        check_body("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "x",
                   "{\"kind\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"value\":\"x\"}");
        /* Overlong forms, UTF-16 surrogates, code points past U+10FFFF and cut sequences do not: each bad
         * byte becomes '?'. */
        check_body("\xc0\xaf", "\xed\xa0\x80", "{\"kind\":\"??\",\"value\":\"???\"}");
        check_body("\xf4\x90\x80\x80", "a\xe2\x82", "{\"kind\":\"????\",\"value\":\"a??\"}");
        check_body("\xe0\x80\x80", "\xf0\x80\x80\x80", "{\"kind\":\"???\",\"value\":\"????\"}");

        /* Past the buffer's cap: -ENOBUFS. */
        assert_int_equal(http_error_body(&b, "kind", "a value that does not fit"), -ENOBUFS);
        buf_free(&b);
}

static void test_reply_error_too_large(void **state)
{
        HttpReply reply = { .owned = strdup("old"), .owned_len = 3, .status = 200 };
        char *value = malloc(HTTP_ERROR_BODY_MAX + 1);

        /* A value over the cap fails with -ENOMEM and leaves the reply as it was. */
        memset(value, 'v', HTTP_ERROR_BODY_MAX);
        value[HTTP_ERROR_BODY_MAX] = 0;
        assert_int_equal(http_reply_error(&reply, 500, "big", value), -ENOMEM);
        assert_int_equal(reply.status, 200);
        assert_string_equal(reply.owned, "old");
        free(value);

        http_reply_clear_body(&reply);
        assert_null(reply.owned);
        assert_int_equal(reply.owned_len, 0);
        assert_int_equal(reply.status, 200);
}

static void test_reply_clear_body_blob(void **state)
{
        Blob *b = blob_new("abc", 3);
        HttpReply reply = { .blob = blob_ref(b) };

        assert_int_equal(b->refs, 2);
        http_reply_clear_body(&reply);
        assert_null(reply.blob);
        assert_int_equal(b->refs, 1);
        blob_unref(b);
}

static void test_reply_headers(void **state)
{
        static const char *const names[HTTP_REPLY_MAX_HEADERS] = { "X-One", "X-Two", "X-Three", "X-Four",
                                                                   "X-5",   "X-6",   "X-7",     "X-8" };
        HttpReply reply = {};

        for (size_t i = 0; i < HTTP_REPLY_MAX_HEADERS; i++)
                assert_int_equal(http_reply_add_header(&reply, names[i], "v"), 0);
        assert_int_equal(http_reply_add_header(&reply, "X-Nine", "9"), -E2BIG);
        assert_int_equal(reply.n_headers, HTTP_REPLY_MAX_HEADERS);
        for (size_t i = 0; i < HTTP_REPLY_MAX_HEADERS; i++) {
                assert_string_equal(reply.header_names[i], names[i]);
                assert_string_equal(reply.header_values[i], "v");
        }
}

static void test_error_response(void **state)
{
        struct MHD_Response *resp = http_error_response("bad_request", "no", true);

        /* With close: MHD closes the connection after it. */
        assert_non_null(resp);
        assert_string_equal(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json");
        assert_string_equal(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONNECTION), "close");
        MHD_destroy_response(resp);

        resp = http_error_response("payload_too_large", "big", false);
        assert_non_null(resp);
        assert_string_equal(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json");
        assert_null(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONNECTION));
        MHD_destroy_response(resp);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reply_error_escaping),  cmocka_unit_test(test_error_body),
                cmocka_unit_test(test_reply_error_too_large), cmocka_unit_test(test_reply_clear_body_blob),
                cmocka_unit_test(test_reply_headers),         cmocka_unit_test(test_error_response),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

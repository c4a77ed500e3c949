/* http-reply.c — the JSON error bodies of the HTTP server (as text, and as ready MHD responses) and its
 * handlers' reply helpers (see http-reply.h). */
#include "http-reply.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "macros.h"

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when the bytes there are not one. */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
        unsigned c = *p;
        uint32_t cp;
        size_t k;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                k = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                k = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                k = 3;
                cp = c & 0x07;
        } else
                return 0;
        if ((size_t)(end - p) <= k)
                return 0;
        for (size_t i = 1; i <= k; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
                return 0;
        if (k == 3 && (cp < 0x10000 || cp > 0x10ffff))
                return 0;
        return k + 1;
}

/* Appends s as a JSON string; bytes that are not valid UTF-8 become '?' so the document stays valid. */
static int put_json_text(Buf *b, const char *s)
{
        _cleanup_free_ char *copy = NULL;
        size_t n = strlen(s), i = 0, k;

        while (i < n && (k = utf8_seq_len((const unsigned char *)s + i, (const unsigned char *)s + n)) > 0)
                i += k;
        if (i < n) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
                while (i < n) {
                        k = utf8_seq_len((const unsigned char *)copy + i, (const unsigned char *)copy + n);
                        if (k == 0) {
                                copy[i] = '?';
                                k = 1;
                        }
                        i += k;
                }
                s = copy;
        }
        return buf_put_json_string(b, s, n);
}

int http_error_body(Buf *b, const char *kind, const char *value)
{
        int r = buf_puts(b, "{\"kind\":");
        if (r >= 0)
                r = put_json_text(b, kind ? kind : "");
        if (r >= 0)
                r = buf_puts(b, ",\"value\":");
        if (r >= 0)
                r = put_json_text(b, value ? value : "");
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

struct MHD_Response *http_error_response(const char *kind, const char *value, bool close)
{
        Buf b = BUF_INIT(HTTP_ERROR_BODY_MAX);
        struct MHD_Response *resp;
        char *body;
        size_t n;

        if (http_error_body(&b, kind, value) < 0) {
                buf_free(&b);
                return NULL;
        }
        body = buf_steal(&b, &n);
        resp = MHD_create_response_from_buffer_with_free_callback(n, body, free);
        if (!resp) {
                free(body);
                return NULL;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES ||
            (close && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
                MHD_destroy_response(resp);
                return NULL;
        }
        return resp;
}

void http_reply_clear_body(HttpReply *reply)
{
        reply->blob = blob_unref(reply->blob);
        free(reply->owned);
        reply->owned = NULL;
        reply->owned_len = 0;
}

int http_reply_error(HttpReply *reply, unsigned status, const char *kind, const char *value)
{
        Buf b = BUF_INIT(HTTP_ERROR_BODY_MAX);
        size_t n;
        int r;

        r = http_error_body(&b, kind, value);
        if (r < 0) {
                buf_free(&b);
                return -ENOMEM;
        }
        http_reply_clear_body(reply);
        reply->status = status;
        reply->content_type = "application/json";
        reply->owned = buf_steal(&b, &n);
        reply->owned_len = n;
        return 0;
}

int http_reply_add_header(HttpReply *reply, const char *name, const char *value)
{
        if (reply->n_headers >= HTTP_REPLY_MAX_HEADERS)
                return -E2BIG;
        reply->header_names[reply->n_headers] = name;
        reply->header_values[reply->n_headers] = value;
        reply->n_headers++;
        return 0;
}

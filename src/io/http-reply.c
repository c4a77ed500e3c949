/* http-reply.c — the JSON error bodies of the HTTP server (as text, and as ready MHD responses), the
 * MHD responses for handlers' replies (shared per blob) and the handlers' reply helpers (see
 * http-reply.h). */
#include "http-reply.h"

#include <errno.h>
#include <stdio.h>
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

static void blob_release(void *cls)
{
        blob_unref(cls);
}

/* A ready-made MHD response for a blob, kept with the blob (see blob.h) so that every request answered
 * with the same blob and the same headers reuses it: no allocation and no header formatting per request.
 * Requests hold a reference to the blob until they complete, so the response never outlives its bytes.
 * The body goes out from memory with one sendmsg() together with the headers: sendfile() from a sealed
 * memfd saves copying the body but libmicrohttpd 0.9.75 then pushes the headers in a packet of their own,
 * which costs more (a 42 KB graph on loopback: 15-17.5 µs of CPU per request against 13.3). */
#define SHARED_KEY_MAX 512
typedef struct SharedResponse {
        BlobAttachment base;
        struct MHD_Response *response;
        char key[SHARED_KEY_MAX]; /* content type and headers, "\n"-separated */
} SharedResponse;

static void shared_response_free(BlobAttachment *a)
{
        SharedResponse *sr = (SharedResponse *)a;
        MHD_destroy_response(sr->response);
        free(sr);
}

/* The reply's content type and headers as one string, "type\nname: value\n..."; false when they do not
 * fit. */
static bool reply_key(const HttpReply *reply, char key[static SHARED_KEY_MAX])
{
        size_t n = 0;
        int k;

        k = snprintf(key, SHARED_KEY_MAX, "%s", reply->content_type);
        if (k < 0 || (size_t)k >= SHARED_KEY_MAX)
                return false;
        n = (size_t)k;
        for (size_t i = 0; i < reply->n_headers; i++) {
                if (!reply->header_names[i] || !reply->header_values[i])
                        return false;
                k = snprintf(key + n, SHARED_KEY_MAX - n, "\n%s: %s", reply->header_names[i],
                             reply->header_values[i]);
                if (k < 0 || (size_t)k >= SHARED_KEY_MAX - n)
                        return false;
                n += (size_t)k;
        }
        return true;
}

/* Whether p starts with s; moves p past it when it does. */
static bool skip_prefix(const char **p, const char *s)
{
        size_t n = strlen(s);

        if (strncmp(*p, s, n) != 0)
                return false;
        *p += n;
        return true;
}

/* Whether key is reply_key() of reply, without formatting it (this runs for every request). */
static bool reply_key_matches(const char *key, const HttpReply *reply)
{
        const char *p = key;

        if (!skip_prefix(&p, reply->content_type))
                return false;
        for (size_t i = 0; i < reply->n_headers; i++)
                if (!reply->header_names[i] || !reply->header_values[i] || !skip_prefix(&p, "\n") ||
                    !skip_prefix(&p, reply->header_names[i]) || !skip_prefix(&p, ": ") ||
                    !skip_prefix(&p, reply->header_values[i]))
                        return false;
        return *p == '\0';
}

/* The blob's shared response for this reply's content type and headers, created on first use. NULL when
 * it cannot be (the blob already has one for other headers, or no memory). */
static struct MHD_Response *shared_response(Blob *b, const HttpReply *reply)
{
        SharedResponse *sr = (SharedResponse *)blob_attachment(b), *mine;
        char key[SHARED_KEY_MAX];

        if (sr)
                return reply_key_matches(sr->key, reply) ? sr->response : NULL;
        if (!reply_key(reply, key))
                return NULL;
        mine = calloc(1, sizeof(*mine));
        if (!mine)
                return NULL;
        mine->base.free = shared_response_free;
        strcpy(mine->key, key);
        /* The blob outlives the response's use: every request answered with it holds it. */
        mine->response = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_PERSISTENT);
        if (!mine->response || MHD_add_response_header(mine->response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                       reply->content_type) != MHD_YES)
                goto fail;
        for (size_t i = 0; i < reply->n_headers; i++)
                if (MHD_add_response_header(mine->response, reply->header_names[i],
                                            reply->header_values[i]) != MHD_YES)
                        goto fail;
        sr = (SharedResponse *)blob_attach(b, &mine->base);
        if (sr != mine) /* another thread attached one first: use theirs */
                shared_response_free(&mine->base);
        return streq(sr->key, key) ? sr->response : NULL;
fail:
        if (mine->response)
                MHD_destroy_response(mine->response);
        free(mine);
        return NULL;
}

int http_reply_response(HttpReply *reply, struct MHD_Response **ret, Blob **ret_held)
{
        struct MHD_Response *resp;

        if (reply->blob && reply->content_type && (resp = shared_response(reply->blob, reply))) {
                *ret_held = TAKE_PTR(reply->blob);
                free(TAKE_PTR(reply->owned));
                *ret = resp;
                return 1;
        }
        if (reply->blob) {
                Blob *b = TAKE_PTR(reply->blob);

                free(TAKE_PTR(reply->owned));
                resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, blob_release,
                                                                              b);
                if (!resp)
                        blob_unref(b);
        } else if (reply->owned) {
                char *o = TAKE_PTR(reply->owned);

                resp = MHD_create_response_from_buffer_with_free_callback(reply->owned_len, o, free);
                if (!resp)
                        free(o);
        } else
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return -ENOMEM;

        if (reply->content_type &&
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type) != MHD_YES)
                goto bad_header;
        for (size_t i = 0; i < reply->n_headers; i++)
                if (!reply->header_names[i] || !reply->header_values[i] ||
                    MHD_add_response_header(resp, reply->header_names[i], reply->header_values[i]) !=
                            MHD_YES)
                        goto bad_header;
        *ret = resp;
        return 0;

bad_header:
        MHD_destroy_response(resp);
        return -EINVAL;
}

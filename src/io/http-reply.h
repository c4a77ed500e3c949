/* http-reply.h — the JSON error bodies the HTTP server and its handlers answer with,
 * {"kind":"...","value":"..."}, the conversion of a handler's reply into a libmicrohttpd response, and
 * the reply helpers declared in http-server.h (http_reply_error(),
 * http_reply_add_header()), which are defined in http-reply.c. */
#pragma once

#include <stdbool.h>

#include "buf.h"
#include "http-server.h"

/* Largest JSON error body http_reply_error() builds. */
#define HTTP_ERROR_BODY_MAX ((size_t)64 * 1024)

/* Appends {"kind":KIND,"value":VALUE} to b (NULL is ""). Bytes of either that are not valid UTF-8 become
 * '?', so the document is always valid JSON. -ENOBUFS past b's cap, -ENOMEM. */
int http_error_body(Buf *b, const char *kind, const char *value);
struct MHD_Response;
/* A libmicrohttpd response carrying that JSON error body with "Content-Type: application/json", and
 * "Connection: close" (MHD then closes the connection after it) when close is set. NULL when out of
 * memory. The caller destroys it with MHD_destroy_response(). */
struct MHD_Response *http_error_response(const char *kind, const char *value, bool close);
/* Turns reply into a libmicrohttpd response, taking over its body. A blob reply with a content type and no
 * extra headers gets the blob's shared response (built once per blob): *ret_held then gets the blob
 * reference, which the caller keeps until the request completes, and the result is 1 (the response is
 * the blob's: do not destroy it). Otherwise 0 and a new response the caller destroys once queued;
 * *ret_held is untouched. -ENOMEM, or -EINVAL for an invalid extra header. */
int http_reply_response(HttpReply *reply, struct MHD_Response **ret, Blob **ret_held);
/* Drops the body of reply (its blob reference or its owned buffer); the rest is kept. */
void http_reply_clear_body(HttpReply *reply);

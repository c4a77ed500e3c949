/* http-reply.h — the JSON error bodies the HTTP server and its handlers answer with,
 * {"kind":"...","value":"..."}, and the reply helpers declared in http-server.h (http_reply_error(),
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
/* Drops the body of reply (its blob reference or its owned buffer); the rest is kept. */
void http_reply_clear_body(HttpReply *reply);

/* source.h — fetching an input document named by a local path or an http(s) URL, with a size cap. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "http-client.h"

bool source_is_url(const char *spec);
/* Reads spec into a new NUL-terminated buffer. URLs go through client (which carries the timeouts) and
 * must answer 200. Errors name the source: "<spec>: <reason>". */
int source_fetch(const char *spec, HttpClient *client, size_t max_bytes, char **ret_data, size_t *ret_len,
                 Error *e);

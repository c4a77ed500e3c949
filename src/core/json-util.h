/* json-util.h — helpers over jansson: strict parsing with located errors, typed member access that
 * names the offending field, and cleanup attributes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* jansson (>= 2.9) provides json_decrefp(). */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* Parses one JSON document strictly: duplicate keys, invalid UTF-8, NUL bytes, trailing data and
 * number overflow are rejected. Error text: "line L column C: reason". */
int json_parse_strict(const char *data, size_t len, json_t **ret, Error *e);

/* Member accessors. "what" names the containing object for the error (e.g. "release 3").
 * Return 0 and set *ret when present with the right type; -ENOENT when absent (*ret untouched, no
 * error text unless required); -EINVAL on a wrong type (error text names what, key and type). */
int json_member_string(const json_t *obj, const char *key, bool required, const char *what, const char **ret,
                       Error *e);
int json_member_object(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                       Error *e);
int json_member_array(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                      Error *e);
/* An integer (no fraction, no exponent) within [min, max]. */
int json_member_int(const json_t *obj, const char *key, bool required, const char *what, int64_t min,
                    int64_t max, int64_t *ret, Error *e);
/* Any JSON number (integer or real), finite. */
int json_member_number(const json_t *obj, const char *key, bool required, const char *what, double *ret,
                       Error *e);
/* true or false (not 0, 1 or a string). */
int json_member_bool(const json_t *obj, const char *key, bool required, const char *what, bool *ret,
                     Error *e);

const char *json_type_name(const json_t *j);

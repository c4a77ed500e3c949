/* json-util.c — strict jansson parsing and typed member access (see json-util.h). */
#include "json-util.h"

#include <errno.h>

const char *json_type_name(const json_t *j)
{
        switch (json_typeof(j)) {
        case JSON_OBJECT:
                return "object";
        case JSON_ARRAY:
                return "array";
        case JSON_STRING:
                return "string";
        case JSON_INTEGER:
                return "integer";
        case JSON_REAL:
                return "number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "boolean";
        case JSON_NULL:
                return "null";
        }
        return "unknown";
}

int json_parse_strict(const char *data, size_t len, json_t **ret, Error *e)
{
        json_error_t jerr;
        json_t *j;

        j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!j)
                return error_setf(e, -EINVAL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        *ret = j;
        return 0;
}

static int member(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                  Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */

        if (!json_is_object(obj))
                return error_setf(e, -EINVAL, "%s: expected an object, got %s", what, json_type_name(obj));
        v = json_object_get(obj, key);
        if (!v) {
                if (required)
                        return error_setf(e, -ENOENT, "%s: missing field '%s'", what, key);
                return -ENOENT;
        }
        *ret = v;
        return 0;
}

#define WRONG_TYPE(expected)                                                                                \
        error_setf(e, -EINVAL, "%s: field '%s' must be %s, got %s", what, key, expected, json_type_name(v))

int json_member_string(const json_t *obj, const char *key, bool required, const char *what, const char **ret,
                       Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_string(v))
                return WRONG_TYPE("a string");
        *ret = json_string_value(v);
        return 0;
}

int json_member_object(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                       Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_object(v))
                return WRONG_TYPE("an object");
        *ret = v;
        return 0;
}

int json_member_array(const json_t *obj, const char *key, bool required, const char *what, json_t **ret,
                      Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_array(v))
                return WRONG_TYPE("an array");
        *ret = v;
        return 0;
}

int json_member_int(const json_t *obj, const char *key, bool required, const char *what, int64_t min,
                    int64_t max, int64_t *ret, Error *e)
{
        json_int_t n;
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_integer(v))
                return WRONG_TYPE("an integer");
        n = json_integer_value(v);
        if (n < min || n > max)
                return error_setf(e, -ERANGE, "%s: field '%s' is %lld, outside [%lld, %lld]", what, key,
                                  (long long)n, (long long)min, (long long)max);
        *ret = n;
        return 0;
}

int json_member_number(const json_t *obj, const char *key, bool required, const char *what, double *ret,
                       Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_number(v))
                return WRONG_TYPE("a number");
        *ret = json_number_value(v);
        return 0;
}

int json_member_bool(const json_t *obj, const char *key, bool required, const char *what, bool *ret,
                     Error *e)
{
        json_t *v = NULL; /* set by member() on success; gcc -O3 cannot see that */
        int r = member(obj, key, required, what, &v, e);
        if (r < 0)
                return r;
        if (!json_is_boolean(v))
                return WRONG_TYPE("a boolean");
        *ret = json_is_true(v);
        return 0;
}

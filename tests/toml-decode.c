/* toml-decode.c — a decoder with the toml-test interface, for the conformance suite: reads TOML on stdin
 * (at most 16 MiB), prints the document as "tagged JSON" on stdout and exits 0; on invalid input prints
 * "line L, column C: message" on stderr and exits 1. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "macros.h"
#include "toml.h"

#define INPUT_MAX (16u * 1024 * 1024)
#define OUTPUT_MAX ((size_t)1 << 30)

static int put_tagged(Buf *b, const char *type, const char *value, size_t len)
{
        int r = buf_puts(b, "{\"type\":\"");
        if (r >= 0)
                r = buf_puts(b, type);
        if (r >= 0)
                r = buf_puts(b, "\",\"value\":");
        if (r >= 0)
                r = buf_put_json_string(b, value, len);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

static int put_datetime(Buf *b, const TomlValue *v)
{
        const TomlDatetime *dt = toml_datetime(v);
        TomlType t = toml_type(v);
        char s[64];
        size_t n = 0;

        if (t != TOML_TIME_LOCAL)
                n += (size_t)snprintf(s + n, sizeof(s) - n, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
        if (t == TOML_DATETIME || t == TOML_DATETIME_LOCAL)
                s[n++] = 'T';
        if (t != TOML_DATE_LOCAL) {
                n += (size_t)snprintf(s + n, sizeof(s) - n, "%02d:%02d:%02d", dt->hour, dt->minute,
                                      dt->second);
                if (dt->nanosecond) {
                        char frac[16];
                        int k = snprintf(frac, sizeof(frac), "%09" PRIu32, dt->nanosecond);
                        while (k > 1 && frac[k - 1] == '0')
                                k--;
                        n += (size_t)snprintf(s + n, sizeof(s) - n, ".%.*s", k, frac);
                }
        }
        if (t == TOML_DATETIME) {
                int off = dt->offset_minutes;
                if (off == 0)
                        s[n++] = 'Z';
                else
                        n += (size_t)snprintf(s + n, sizeof(s) - n, "%c%02d:%02d", off < 0 ? '-' : '+',
                                              abs(off) / 60, abs(off) % 60);
        }
        return put_tagged(b, toml_type_name(t), s, n);
}

/* Depth is bounded by the parser (TOML_MAX_DEPTH), so recursion is fine here. */
static int put_value(Buf *b, const TomlValue *v)
{
        char s[64];
        int r = 0;

        switch (toml_type(v)) {
        case TOML_TABLE:
                r = buf_putc(b, '{');
                for (size_t i = 0; r >= 0 && i < toml_table_size(v); i++) {
                        size_t klen;
                        const char *key = toml_table_key_at_n(v, i, &klen);
                        if (i > 0)
                                r = buf_putc(b, ',');
                        if (r >= 0)
                                r = buf_put_json_string(b, key, klen);
                        if (r >= 0)
                                r = buf_putc(b, ':');
                        if (r >= 0)
                                r = put_value(b, toml_table_value_at(v, i));
                }
                return r < 0 ? r : buf_putc(b, '}');
        case TOML_ARRAY:
                r = buf_putc(b, '[');
                for (size_t i = 0; r >= 0 && i < toml_array_size(v); i++) {
                        if (i > 0)
                                r = buf_putc(b, ',');
                        if (r >= 0)
                                r = put_value(b, toml_array_get(v, i));
                }
                return r < 0 ? r : buf_putc(b, ']');
        case TOML_STRING: {
                size_t len;
                const char *str = toml_string(v, &len);
                return put_tagged(b, "string", str, len);
        }
        case TOML_INTEGER:
                snprintf(s, sizeof(s), "%" PRId64, toml_integer(v));
                return put_tagged(b, "integer", s, strlen(s));
        case TOML_FLOAT: {
                double d = toml_float(v);
                if (isnan(d))
                        snprintf(s, sizeof(s), "nan");
                else if (isinf(d))
                        snprintf(s, sizeof(s), "%sinf", d < 0 ? "-" : "");
                else
                        snprintf(s, sizeof(s), "%.17g", d);
                return put_tagged(b, "float", s, strlen(s));
        }
        case TOML_BOOLEAN:
                return put_tagged(b, "bool", toml_boolean(v) ? "true" : "false", toml_boolean(v) ? 4 : 5);
        case TOML_DATETIME:
        case TOML_DATETIME_LOCAL:
        case TOML_DATE_LOCAL:
        case TOML_TIME_LOCAL:
                return put_datetime(b, v);
        }
        return -EINVAL;
}

int main(void)
{
        _cleanup_free_ char *input = NULL;
        _cleanup_toml_ TomlValue *root = NULL;
        Buf out = BUF_INIT(OUTPUT_MAX);
        TomlError error = {};
        size_t len = 0;
        int r;

        input = malloc(INPUT_MAX + 1);
        if (!input) {
                fprintf(stderr, "out of memory\n");
                return 2;
        }
        for (;;) {
                size_t n = fread(input + len, 1, INPUT_MAX + 1 - len, stdin);
                len += n;
                if (n == 0 || len > INPUT_MAX)
                        break;
        }
        if (ferror(stdin)) {
                fprintf(stderr, "reading stdin: %s\n", strerror(errno));
                return 2;
        }
        if (len > INPUT_MAX) {
                fprintf(stderr, "line 0, column 0: input larger than %u bytes\n", INPUT_MAX);
                return 1;
        }

        r = toml_parse(input, len, &root, &error);
        if (r < 0) {
                fprintf(stderr, "line %u, column %u: %s\n", error.line, error.column, error.message);
                return 1;
        }
        r = put_value(&out, root);
        if (r >= 0)
                r = buf_putc(&out, '\n');
        if (r < 0) {
                fprintf(stderr, "formatting JSON: %s\n", strerror(-r));
                buf_free(&out);
                return 2;
        }
        if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
                buf_free(&out);
                return 2;
        }
        buf_free(&out);
        return 0;
}

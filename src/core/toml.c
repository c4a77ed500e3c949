/* toml.c — a strict TOML 1.0.0 parser (see toml.h). One pass over the document builds the tree; every
 * rule of the spec (duplicate keys, table redefinition, sealed inline tables and static arrays, UTF-8,
 * control characters, value ranges) is checked as values are added. Recursion only follows the nesting
 * of arrays and inline tables and is capped by TOML_MAX_DEPTH; large tables get a hash index. */
#include "toml.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "macros.h"
#include "siphash13.h"

/* Tables with more entries than this get a hash index. */
#define TABLE_INDEX_MIN 16
/* Keys in error messages: at most this many bytes of the key, this many bytes of output. */
#define KEY_SHOW_MAX 40
#define KEY_SHOW_OUT 64

enum {
        /* tables */
        TF_IMPLICIT = 1 << 0, /* created as a parent by a [x.y] header: may still be defined once by [x] */
        TF_HEADER = 1 << 1,   /* defined by a [header] (or an element of [[header]]) */
        TF_DOTTED = 1 << 2,   /* created by a dotted key: may be extended by more dotted keys */
        TF_INLINE = 1 << 3,   /* an inline table: sealed once written */
        /* arrays */
        TF_AOT = 1 << 4, /* an array of tables made by [[header]]: may be appended to */
};

typedef struct TomlEntry {
        char *key;
        size_t key_len;
        uint64_t hash; /* valid while the table has an index */
        TomlValue *value;
} TomlEntry;

typedef struct TomlIndex {
        uint64_t k0, k1;
        size_t mask;
        uint32_t slots[]; /* entry index + 1; 0 = empty */
} TomlIndex;

struct TomlValue {
        uint8_t type;
        uint8_t flags;
        uint16_t depth; /* containers only: the root is 0 */
        unsigned line, column;
        union {
                struct {
                        TomlEntry *entries;
                        size_t n, cap;
                        TomlIndex *index;
                } table;
                struct {
                        TomlValue **items;
                        size_t n, cap;
                } array;
                struct {
                        char *s;
                        size_t len;
                } string;
                int64_t integer;
                double fp;
                bool boolean;
                TomlDatetime dt;
        };
};

typedef struct KeyPart {
        char *s;
        size_t len;
        size_t pos;
} KeyPart;

typedef struct Key {
        KeyPart *parts;
        size_t n, cap;
} Key;

typedef struct Parser {
        const char *data;
        size_t len, pos;
        size_t base; /* after the BOM, where line 1 column 1 is */

        TomlValue *root;
        TomlValue *current; /* the table the last header selected */

        /* line and column of lc_pos, so that positions can be located in amortized linear time */
        size_t lc_pos;
        unsigned lc_line, lc_col;

        bool have_seed;
        uint64_t k0, k1;
        locale_t c_locale;

        Buf scratch;
        TomlError error;
} Parser;

static int parse_value(Parser *p, unsigned depth, TomlValue **ret);

/* ---- positions and errors ---- */

static int peek(const Parser *p, size_t off)
{
        if (p->pos + off >= p->len || p->pos + off < p->pos)
                return -1;
        return (unsigned char)p->data[p->pos + off];
}

static bool at_eof(const Parser *p)
{
        return p->pos >= p->len;
}

static void linecol(Parser *p, size_t pos, unsigned *ret_line, unsigned *ret_col)
{
        if (pos > p->len)
                pos = p->len;
        if (pos < p->lc_pos || p->lc_line == 0) {
                p->lc_pos = p->base;
                p->lc_line = 1;
                p->lc_col = 1;
        }
        for (size_t i = p->lc_pos; i < pos; i++) {
                unsigned char c = (unsigned char)p->data[i];
                if (c == '\n') {
                        p->lc_line++;
                        p->lc_col = 1;
                } else if ((c & 0xC0) != 0x80)
                        p->lc_col++;
        }
        p->lc_pos = MAX(pos, p->lc_pos);
        *ret_line = p->lc_line;
        *ret_col = p->lc_col;
}

_printf_(4, 5) static int fail(Parser *p, size_t pos, int r, const char *fmt, ...)
{
        va_list ap;

        linecol(p, pos, &p->error.line, &p->error.column);
        va_start(ap, fmt);
        vsnprintf(p->error.message, sizeof(p->error.message), fmt, ap);
        va_end(ap);
        return r;
}

static int oom(Parser *p)
{
        p->error.line = p->error.column = 0;
        snprintf(p->error.message, sizeof(p->error.message), "out of memory");
        return -ENOMEM;
}

static bool is_control(unsigned char c)
{
        return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare_key_char(int c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-';
}

static bool is_digit(int c)
{
        return c >= '0' && c <= '9';
}

/* Describes the character at pos for "found X" messages. */
static const char *describe(const Parser *p, size_t pos, char *buf, size_t size)
{
        unsigned char c;

        if (pos >= p->len)
                return "end of file";
        c = (unsigned char)p->data[pos];
        if (c == '\n')
                return "end of line";
        if (c == '\r')
                return pos + 1 < p->len && p->data[pos + 1] == '\n' ? "end of line" : "carriage return";
        if (is_control(c))
                snprintf(buf, size, "control character U+%04X", c);
        else if (c < 0x80)
                snprintf(buf, size, "'%c'", c);
        else {
                size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
                n = MIN(n, p->len - pos);
                snprintf(buf, size, "'%.*s'", (int)n, p->data + pos);
        }
        return buf;
}

/* Formats a key for messages: bare when it can be, else quoted with escapes, shortened if long. */
static void format_key(char *buf, size_t size, const char *s, size_t len)
{
        size_t o = 0, i = 0, limit;
        bool bare = len > 0 && len <= KEY_SHOW_MAX; /* shortened keys are quoted */

        for (size_t j = 0; j < len && bare; j++)
                bare = is_bare_key_char((unsigned char)s[j]);
        if (size < 8) {
                if (size)
                        buf[0] = 0;
                return;
        }
        limit = MIN(size, (size_t)KEY_SHOW_OUT) - 5; /* room for "...", the closing quote and the NUL */
        if (!bare)
                buf[o++] = '"';
        while (i < len) {
                unsigned char c = (unsigned char)s[i];
                bool escape = c == '"' || c == '\\', hex = c < 0x20 || c == 0x7f;
                size_t in = 1, out = escape ? 2 : hex ? 6 : 1;

                if (c >= 0xC0) /* a whole UTF-8 sequence at once */
                        in = out = MIN((size_t)(c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2), len - i);
                if (i >= KEY_SHOW_MAX || o + out > limit) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                if (escape) {
                        buf[o++] = '\\';
                        buf[o++] = (char)c;
                } else if (hex)
                        o += (size_t)snprintf(buf + o, size - o, "\\u%04X", c);
                else
                        for (size_t j = 0; j < in; j++)
                                buf[o++] = s[i + j];
                i += in;
        }
        if (!bare)
                buf[o++] = '"';
        buf[o] = 0;
}

static void format_path(char *buf, size_t size, const Key *k, size_t n)
{
        size_t o = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n; i++) {
                if (size - o < 16) { /* no room for another part */
                        if (size - o >= 4)
                                memcpy(buf + o, "...", 4);
                        return;
                }
                if (i > 0)
                        buf[o++] = '.';
                format_key(buf + o, size - o, k->parts[i].s, k->parts[i].len);
                o += strlen(buf + o);
        }
}

/* ---- UTF-8 ---- */

/* Returns the offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_invalid_at(const char *data, size_t start, size_t len)
{
        const unsigned char *s = (const unsigned char *)data;
        size_t i = start;

        while (i < len) {
                unsigned char c = s[i];
                size_t n;
                unsigned char lo = 0x80, hi = 0xBF;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF)
                        n = 1;
                else if (c >= 0xE0 && c <= 0xEF) {
                        n = 2;
                        if (c == 0xE0)
                                lo = 0xA0; /* overlong */
                        else if (c == 0xED)
                                hi = 0x9F; /* surrogates */
                } else if (c >= 0xF0 && c <= 0xF4) {
                        n = 3;
                        if (c == 0xF0)
                                lo = 0x90; /* overlong */
                        else if (c == 0xF4)
                                hi = 0x8F; /* beyond U+10FFFF */
                } else
                        return i;
                if (len - i <= n)
                        return i;
                if (s[i + 1] < lo || s[i + 1] > hi)
                        return i;
                for (size_t j = 2; j <= n; j++)
                        if ((s[i + j] & 0xC0) != 0x80)
                                return i;
                i += n + 1;
        }
        return len;
}

static size_t utf8_encode(char out[4], uint32_t cp)
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* ---- values ---- */

static TomlValue *value_new(Parser *p, TomlType type, size_t pos)
{
        TomlValue *v = calloc(1, sizeof(*v));

        if (!v)
                return NULL;
        v->type = (uint8_t)type;
        linecol(p, pos, &v->line, &v->column);
        return v;
}

static int container_new(Parser *p, TomlType type, size_t pos, unsigned depth, uint8_t flags,
                         TomlValue **ret)
{
        TomlValue *v;

        if (depth > TOML_MAX_DEPTH)
                return fail(p, pos, -E2BIG, "nesting deeper than %d levels", TOML_MAX_DEPTH);
        v = value_new(p, type, pos);
        if (!v)
                return oom(p);
        v->depth = (uint16_t)depth;
        v->flags = flags;
        *ret = v;
        return 0;
}

void toml_free(TomlValue *v)
{
        if (!v)
                return;
        switch (v->type) {
        case TOML_TABLE:
                for (size_t i = 0; i < v->table.n; i++) {
                        free(v->table.entries[i].key);
                        toml_free(v->table.entries[i].value);
                }
                free(v->table.entries);
                free(v->table.index);
                break;
        case TOML_ARRAY:
                for (size_t i = 0; i < v->array.n; i++)
                        toml_free(v->array.items[i]);
                free(v->array.items);
                break;
        case TOML_STRING:
                free(v->string.s);
                break;
        default:
                break;
        }
        free(v);
}

static uint64_t key_hash(const TomlIndex *ix, const char *key, size_t len)
{
        return siphash13(ix->k0, ix->k1, key, len);
}

static TomlEntry *table_find(const TomlValue *t, const char *key, size_t len)
{
        const TomlIndex *ix = t->table.index;

        if (ix) {
                uint64_t h = key_hash(ix, key, len);
                for (size_t i = h & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
                        TomlEntry *e = &t->table.entries[ix->slots[i] - 1];
                        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
                                return e;
                }
                return NULL;
        }
        for (size_t i = 0; i < t->table.n; i++) {
                TomlEntry *e = &t->table.entries[i];
                if (e->key_len == len && memcmp(e->key, key, len) == 0)
                        return e;
        }
        return NULL;
}

/* SipHash key of the tables' indexes; programs set a random one at start (toml_set_hash_key()). */
static uint64_t hash_key[2] = { 0x736f6d6570736575ULL, 0x646f72616e646f6dULL };

void toml_set_hash_key(uint64_t k0, uint64_t k1)
{
        hash_key[0] = k0;
        hash_key[1] = k1;
}

static void index_put(TomlIndex *ix, const TomlEntry *entries, size_t i)
{
        size_t s = entries[i].hash & ix->mask;

        while (ix->slots[s])
                s = (s + 1) & ix->mask;
        ix->slots[s] = (uint32_t)(i + 1);
}

/* (Re)builds t's index with room for at least n entries at load factor 1/2. */
static int table_reindex(Parser *p, TomlValue *t, size_t n)
{
        size_t size = 64;
        TomlIndex *ix;

        if (!p->have_seed) {
                /* The process's key (toml_set_hash_key()), mixed with this parse's addresses. */
                p->k0 = hash_key[0] ^ (uint64_t)(uintptr_t)p;
                p->k1 = hash_key[1] ^ (uint64_t)(uintptr_t)p->data;
                p->have_seed = true;
        }
        while (size < 2 * n)
                size *= 2;
        ix = calloc(1, sizeof(TomlIndex) + size * sizeof(uint32_t));
        if (!ix)
                return oom(p);
        ix->k0 = p->k0;
        ix->k1 = p->k1;
        ix->mask = size - 1;
        for (size_t i = 0; i < t->table.n; i++) {
                if (!t->table.index)
                        t->table.entries[i].hash =
                                key_hash(ix, t->table.entries[i].key, t->table.entries[i].key_len);
                index_put(ix, t->table.entries, i);
        }
        free(t->table.index);
        t->table.index = ix;
        return 0;
}

/* Adds key (taking it) → v (taking it) to t; the caller has checked the key is new. */
static int table_add(Parser *p, TomlValue *t, char *key, size_t key_len, TomlValue *v)
{
        TomlEntry *e;
        int r;

        if (t->table.n == t->table.cap) {
                size_t ncap = t->table.cap ? t->table.cap * 2 : 2;
                TomlEntry *n;
                if (ncap >= UINT32_MAX)
                        goto nomem;
                n = realloc(t->table.entries, ncap * sizeof(TomlEntry));
                if (!n)
                        goto nomem;
                t->table.entries = n;
                t->table.cap = ncap;
        }
        e = &t->table.entries[t->table.n++];
        *e = (TomlEntry){ .key = key, .key_len = key_len, .value = v };
        if (t->table.index) {
                e->hash = key_hash(t->table.index, key, key_len);
                if (2 * t->table.n > t->table.index->mask + 1) {
                        r = table_reindex(p, t, 2 * t->table.n);
                        if (r < 0)
                                goto undo;
                } else
                        index_put(t->table.index, t->table.entries, t->table.n - 1);
        } else if (t->table.n > TABLE_INDEX_MIN) {
                r = table_reindex(p, t, 2 * t->table.n);
                if (r < 0)
                        goto undo;
        }
        return 0;

undo:
        t->table.n--;
        free(key);
        toml_free(v);
        return r;
nomem:
        free(key);
        toml_free(v);
        return oom(p);
}

static int array_add(Parser *p, TomlValue *a, TomlValue *v)
{
        if (a->array.n == a->array.cap) {
                size_t ncap = a->array.cap ? a->array.cap * 2 : 2;
                TomlValue **n = realloc(a->array.items, ncap * sizeof(TomlValue *));
                if (!n) {
                        toml_free(v);
                        return oom(p);
                }
                a->array.items = n;
                a->array.cap = ncap;
        }
        a->array.items[a->array.n++] = v;
        return 0;
}

static char *memdup_nul(const char *s, size_t len)
{
        char *d = malloc(len + 1);

        if (!d)
                return NULL;
        if (len)
                memcpy(d, s, len);
        d[len] = 0;
        return d;
}

/* ---- whitespace, newlines and comments ---- */

static void skip_ws(Parser *p)
{
        while (p->pos < p->len && (p->data[p->pos] == ' ' || p->data[p->pos] == '\t'))
                p->pos++;
}

/* Returns the length of the newline at pos (1 for LF, 2 for CRLF) or 0. */
static size_t newline_len(const Parser *p)
{
        int c = peek(p, 0);

        if (c == '\n')
                return 1;
        if (c == '\r' && peek(p, 1) == '\n')
                return 2;
        return 0;
}

static int skip_comment(Parser *p)
{
        p->pos++; /* '#' */
        while (p->pos < p->len) {
                unsigned char c = (unsigned char)p->data[p->pos];
                if (c == '\n')
                        break;
                if (c == '\r') {
                        if (peek(p, 1) == '\n')
                                break;
                        return fail(p, p->pos, -EINVAL, "bare carriage return in comment");
                }
                if (is_control(c))
                        return fail(p, p->pos, -EINVAL, "control character U+%04X in comment", c);
                p->pos++;
        }
        return 0;
}

/* Skips whitespace, comments and newlines (inside arrays). */
static int skip_ws_comments_newlines(Parser *p)
{
        for (;;) {
                size_t nl;
                skip_ws(p);
                if (peek(p, 0) == '#') {
                        int r = skip_comment(p);
                        if (r < 0)
                                return r;
                        continue;
                }
                nl = newline_len(p);
                if (nl == 0)
                        return 0;
                p->pos += nl;
        }
}

/* After a key/value pair or a header: optional whitespace and comment, then a newline or the end. */
static int expect_end_of_line(Parser *p, const char *after)
{
        char buf[32];
        size_t nl;

        skip_ws(p);
        if (peek(p, 0) == '#') {
                int r = skip_comment(p);
                if (r < 0)
                        return r;
        }
        if (at_eof(p))
                return 0;
        nl = newline_len(p);
        if (nl == 0)
                return fail(p, p->pos, -EINVAL, "expected end of line after %s, found %s", after,
                            describe(p, p->pos, buf, sizeof(buf)));
        p->pos += nl;
        return 0;
}

/* ---- strings ---- */

static int flush_run(Parser *p, size_t run, size_t end)
{
        if (end > run && buf_append(&p->scratch, p->data + run, end - run) < 0)
                return oom(p);
        return 0;
}

static int take_scratch(Parser *p, char **ret, size_t *ret_len)
{
        char *s = memdup_nul(p->scratch.data ? p->scratch.data : "", p->scratch.len);

        if (!s)
                return oom(p);
        *ret = s;
        *ret_len = p->scratch.len;
        return 0;
}

static int parse_hex_escape(Parser *p, size_t esc, unsigned ndigits)
{
        uint32_t cp = 0;
        char out[4];

        for (unsigned i = 0; i < ndigits; i++) {
                int c = peek(p, 1 + i);
                unsigned d;
                if (is_digit(c))
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return fail(p, esc, -EINVAL,
                                    "invalid escape '\\%c' in string: expected %u hex digits",
                                    ndigits == 4 ? 'u' : 'U', ndigits);
                cp = cp * 16 + d;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return fail(p, esc, -EINVAL,
                            "invalid escape '\\%c%.*s' in string: not a Unicode scalar value",
                            ndigits == 4 ? 'u' : 'U', (int)ndigits, p->data + p->pos + 1);
        p->pos += 1 + ndigits;
        if (buf_append(&p->scratch, out, utf8_encode(out, cp)) < 0)
                return oom(p);
        return 0;
}

/* At a backslash inside a basic string. */
static int parse_escape(Parser *p, bool multiline)
{
        size_t esc = p->pos;
        int c;
        char ch;

        p->pos++;
        c = peek(p, 0);
        switch (c) {
        case 'b':
                ch = '\b';
                break;
        case 't':
                ch = '\t';
                break;
        case 'n':
                ch = '\n';
                break;
        case 'f':
                ch = '\f';
                break;
        case 'r':
                ch = '\r';
                break;
        case '"':
                ch = '"';
                break;
        case '\\':
                ch = '\\';
                break;
        case 'u':
                return parse_hex_escape(p, esc, 4);
        case 'U':
                return parse_hex_escape(p, esc, 8);
        case ' ':
        case '\t':
        case '\n':
        case '\r':
                if (multiline) {
                        /* line-ending backslash: whitespace up to the newline, then all whitespace */
                        skip_ws(p);
                        if (newline_len(p) == 0)
                                return fail(p, esc, -EINVAL,
                                            "invalid escape in string: a backslash followed by whitespace "
                                            "must end the line");
                        for (;;) {
                                size_t nl;
                                skip_ws(p);
                                nl = newline_len(p);
                                if (nl == 0)
                                        break;
                                p->pos += nl;
                        }
                        return 0;
                }
                return fail(p, esc, -EINVAL, "invalid escape in string: backslash followed by whitespace");
        case -1:
                return fail(p, p->pos, -EINVAL, "unterminated string");
        default:
                if (c > 0x20 && c < 0x7f)
                        return fail(p, esc, -EINVAL, "invalid escape '\\%c' in string", c);
                return fail(p, esc, -EINVAL, "invalid escape sequence in string");
        }
        p->pos++;
        if (buf_putc(&p->scratch, ch) < 0)
                return oom(p);
        return 0;
}

/* Counts the quote characters q at pos. */
static size_t count_quotes(const Parser *p, char q)
{
        size_t n = 0;

        while (p->pos + n < p->len && p->data[p->pos + n] == q)
                n++;
        return n;
}

/* Parses a basic ("...", """...""") or literal ('...', '''...''') string at pos into a new NUL-terminated
 * buffer. Newlines in multiline strings are returned as LF. */
static int parse_string(Parser *p, char quote, bool multiline, char **ret, size_t *ret_len)
{
        size_t start = p->pos, run;
        const char *kind = quote == '"' ? "string" : "literal string";
        int r;

        buf_truncate(&p->scratch, 0);
        p->pos += multiline ? 3 : 1;
        if (multiline)
                p->pos += newline_len(p); /* a newline right after the opening quotes is trimmed */
        run = p->pos;

        for (;;) {
                unsigned char c;

                if (at_eof(p))
                        return fail(p, start, -EINVAL, "unterminated %s", kind);
                c = (unsigned char)p->data[p->pos];
                if (c == (unsigned char)quote) {
                        size_t q;
                        if (!multiline) {
                                r = flush_run(p, run, p->pos);
                                if (r < 0)
                                        return r;
                                p->pos++;
                                break;
                        }
                        q = count_quotes(p, quote);
                        if (q < 3) {
                                p->pos += q;
                                continue;
                        }
                        if (q > 5)
                                return fail(p, p->pos + 5, -EINVAL,
                                            "too many quotes at the end of a multiline %s", kind);
                        /* up to two quotes right before the closing ones belong to the string */
                        r = flush_run(p, run, p->pos + q - 3);
                        if (r < 0)
                                return r;
                        p->pos += q;
                        break;
                }
                if (c == '\\' && quote == '"') {
                        r = flush_run(p, run, p->pos);
                        if (r < 0)
                                return r;
                        r = parse_escape(p, multiline);
                        if (r < 0)
                                return r;
                        run = p->pos;
                        continue;
                }
                if (c == '\n' || c == '\r') {
                        size_t nl = newline_len(p);
                        if (nl == 0)
                                return fail(p, p->pos, -EINVAL, "bare carriage return in %s", kind);
                        if (!multiline)
                                return fail(p, p->pos, -EINVAL,
                                            "unterminated %s (newline before the closing quote)", kind);
                        if (nl == 2) {
                                r = flush_run(p, run, p->pos);
                                if (r < 0)
                                        return r;
                                run = p->pos + 1; /* keep the LF only */
                        }
                        p->pos += nl;
                        continue;
                }
                if (is_control(c))
                        return fail(p, p->pos, -EINVAL, "control character U+%04X in %s (use an escape)", c,
                                    kind);
                p->pos++;
        }
        return take_scratch(p, ret, ret_len);
}

/* ---- keys ---- */

static void key_done(Key *k)
{
        for (size_t i = 0; i < k->n; i++)
                free(k->parts[i].s);
        free(k->parts);
        *k = (Key){};
}

static int parse_simple_key(Parser *p, KeyPart *ret)
{
        size_t start = p->pos;
        int c = peek(p, 0);
        char buf[32];
        char *s;
        size_t len;
        int r;

        if (c == '"' || c == '\'') {
                if (peek(p, 1) == c && peek(p, 2) == c)
                        return fail(p, start, -EINVAL, "multiline strings cannot be used as keys");
                r = parse_string(p, (char)c, false, &s, &len);
                if (r < 0)
                        return r;
        } else {
                while (is_bare_key_char(peek(p, 0)))
                        p->pos++;
                len = p->pos - start;
                if (len == 0)
                        return fail(p, start, -EINVAL, "expected a key, found %s",
                                    describe(p, start, buf, sizeof(buf)));
                s = memdup_nul(p->data + start, len);
                if (!s)
                        return oom(p);
        }
        *ret = (KeyPart){ .s = s, .len = len, .pos = start };
        return 0;
}

/* Parses a (dotted) key and the whitespace around it. */
static int parse_key(Parser *p, Key *k)
{
        for (;;) {
                KeyPart part;
                int r;

                skip_ws(p);
                if (k->n > TOML_MAX_DEPTH)
                        return fail(p, p->pos, -E2BIG, "key with more than %d parts", TOML_MAX_DEPTH + 1);
                if (k->n == k->cap) {
                        size_t ncap = k->cap ? k->cap * 2 : 4;
                        KeyPart *n = realloc(k->parts, ncap * sizeof(KeyPart));
                        if (!n)
                                return oom(p);
                        k->parts = n;
                        k->cap = ncap;
                }
                r = parse_simple_key(p, &part);
                if (r < 0)
                        return r;
                k->parts[k->n++] = part;
                skip_ws(p);
                if (peek(p, 0) != '.')
                        return 0;
                p->pos++;
        }
}

/* ---- tables ---- */

static const char *article(TomlType t)
{
        return t == TOML_ARRAY || t == TOML_INTEGER ? "an" : "a";
}

static int new_table_in(Parser *p, TomlValue *parent, KeyPart *part, size_t pos, uint8_t flags,
                        TomlValue **ret)
{
        TomlValue *t;
        int r;

        char *key;

        r = container_new(p, TOML_TABLE, pos, parent->depth + 1u, flags, &t);
        if (r < 0)
                return r;
        /* a copy: the key's text is still needed for messages */
        key = memdup_nul(part->s, part->len);
        if (!key) {
                toml_free(t);
                return oom(p);
        }
        r = table_add(p, parent, key, part->len, t);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

/* Walks the dotted key k (all but its last part) from table t, creating tables as needed; checks that the
 * last part is new. Returns the table the value goes into. */
static int resolve_dotted_key(Parser *p, TomlValue *t, Key *k, TomlValue **ret)
{
        char name[160];
        TomlEntry *e;
        int r;

        for (size_t i = 0; i + 1 < k->n; i++) {
                KeyPart *part = &k->parts[i];
                TomlValue *v;

                e = table_find(t, part->s, part->len);
                if (!e) {
                        r = new_table_in(p, t, part, part->pos, TF_DOTTED, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                v = e->value;
                if (v->type != TOML_TABLE || (v->flags & (TF_INLINE | TF_HEADER)))
                        format_path(name, sizeof(name), k, i + 1);
                if (v->type != TOML_TABLE)
                        return fail(p, part->pos, -EINVAL, "cannot add keys to '%s': it is %s %s", name,
                                    article(v->type), toml_type_name(v->type));
                if (v->flags & TF_INLINE)
                        return fail(p, part->pos, -EINVAL, "cannot add keys to inline table '%s'", name);
                if (v->flags & TF_HEADER)
                        return fail(p, part->pos, -EINVAL,
                                    "cannot add keys to table '%s' with dotted keys: it has its own header",
                                    name);
                /* A table only created as the parent of a header ([a.b] making a) was never defined:
                 * TOML 1.0 lets dotted keys write into it, which defines it (no [a] header may follow). */
                if (v->flags & TF_IMPLICIT)
                        v->flags = TF_DOTTED;
                t = v;
        }
        e = table_find(t, k->parts[k->n - 1].s, k->parts[k->n - 1].len);
        if (e) {
                format_key(name, sizeof(name), k->parts[k->n - 1].s, k->parts[k->n - 1].len);
                return fail(p, k->parts[k->n - 1].pos, -EINVAL, "duplicate key '%s'", name);
        }
        *ret = t;
        return 0;
}

/* key = value, added to table t. */
static int parse_keyval(Parser *p, TomlValue *t)
{
        _cleanup_(key_done) Key k = {};
        TomlValue *parent = NULL, *v = NULL;
        char buf[32];
        KeyPart *last;
        int r;

        r = parse_key(p, &k);
        if (r < 0)
                return r;
        if (peek(p, 0) != '=')
                return fail(p, p->pos, -EINVAL, "expected '=' after key, found %s",
                            describe(p, p->pos, buf, sizeof(buf)));
        p->pos++;
        skip_ws(p);
        r = resolve_dotted_key(p, t, &k, &parent);
        if (r < 0)
                return r;
        r = parse_value(p, parent->depth + 1u, &v);
        if (r < 0)
                return r;
        last = &k.parts[k.n - 1];
        return table_add(p, parent, TAKE_PTR(last->s), last->len, v);
}

/* Walks the header key k (all but its last part) from the root, creating implicit tables as needed and
 * entering the latest element of arrays of tables. Returns the table the last part goes into. */
static int walk_header_path(Parser *p, Key *k, size_t hpos, TomlValue **ret)
{
        TomlValue *t = p->root;
        char name[160];
        int r;

        for (size_t i = 0; i + 1 < k->n; i++) {
                KeyPart *part = &k->parts[i];
                TomlEntry *e;
                TomlValue *v;

                e = table_find(t, part->s, part->len);
                if (!e) {
                        r = new_table_in(p, t, part, hpos, TF_IMPLICIT, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                v = e->value;
                if (v->type == TOML_TABLE && !(v->flags & TF_INLINE)) {
                        t = v;
                        continue;
                }
                if (v->type == TOML_ARRAY && (v->flags & TF_AOT)) {
                        t = v->array.items[v->array.n - 1]; /* the latest element */
                        continue;
                }
                format_path(name, sizeof(name), k, i + 1);
                if (v->type == TOML_TABLE)
                        return fail(p, part->pos, -EINVAL, "cannot extend inline table '%s'", name);
                if (v->type == TOML_ARRAY)
                        return fail(p, part->pos, -EINVAL,
                                    "cannot extend static array '%s' with a table header", name);
                return fail(p, part->pos, -EINVAL, "cannot use '%s' as a table: it is %s %s", name,
                            article(v->type), toml_type_name(v->type));
        }
        *ret = t;
        return 0;
}

/* [a.b.c]: defines the table named by the last part of k in t (or an implicitly created one) and makes it
 * the current table. */
static int open_header_table(Parser *p, Key *k, size_t hpos, TomlValue *t)
{
        KeyPart *last = &k->parts[k->n - 1];
        char name[160];
        TomlEntry *e;
        TomlValue *v;

        format_path(name, sizeof(name), k, k->n);
        e = table_find(t, last->s, last->len);
        if (!e)
                return new_table_in(p, t, last, hpos, TF_HEADER, &p->current);
        v = e->value;
        if (v->type == TOML_TABLE && v->flags == TF_IMPLICIT) {
                v->flags = TF_HEADER;
                linecol(p, hpos, &v->line, &v->column);
                p->current = v;
                return 0;
        }
        if (v->type == TOML_TABLE && (v->flags & TF_DOTTED))
                return fail(p, hpos, -EINVAL, "table [%s] already defined by dotted keys", name);
        if (v->type == TOML_TABLE && (v->flags & TF_INLINE))
                return fail(p, hpos, -EINVAL, "table [%s] already defined as an inline table", name);
        if (v->type == TOML_TABLE)
                return fail(p, hpos, -EINVAL, "table [%s] defined twice", name);
        if (v->type == TOML_ARRAY && (v->flags & TF_AOT))
                return fail(p, hpos, -EINVAL, "table [%s] already defined as an array of tables", name);
        return fail(p, hpos, -EINVAL, "cannot define table [%s]: key already defined as %s %s", name,
                    article(v->type), toml_type_name(v->type));
}

/* [[a.b.c]]: finds or creates the array of tables named by the last part of k in t. */
static int find_array_of_tables(Parser *p, Key *k, size_t hpos, TomlValue *t, TomlValue **ret)
{
        KeyPart *last = &k->parts[k->n - 1];
        char name[160];
        TomlEntry *e;
        TomlValue *a;
        int r;

        format_path(name, sizeof(name), k, k->n);
        e = table_find(t, last->s, last->len);
        if (!e) {
                r = container_new(p, TOML_ARRAY, hpos, t->depth + 1u, TF_AOT, &a);
                if (r < 0)
                        return r;
                r = table_add(p, t, TAKE_PTR(last->s), last->len, a);
                if (r < 0)
                        return r;
                *ret = a;
                return 0;
        }
        a = e->value;
        if (a->type == TOML_TABLE)
                return fail(p, hpos, -EINVAL,
                            "cannot define array of tables [[%s]]: already defined as a table", name);
        if (a->type != TOML_ARRAY)
                return fail(p, hpos, -EINVAL,
                            "cannot define array of tables [[%s]]: key already defined as %s %s", name,
                            article(a->type), toml_type_name(a->type));
        if (!(a->flags & TF_AOT))
                return fail(p, hpos, -EINVAL, "cannot append to static array '%s' with [[%s]]", name, name);
        *ret = a;
        return 0;
}

/* [[a.b.c]]: appends a new table to the array of tables and makes it the current table. */
static int open_header_array_table(Parser *p, Key *k, size_t hpos, TomlValue *t)
{
        TomlValue *a = NULL, *elem = NULL;
        int r;

        r = find_array_of_tables(p, k, hpos, t, &a);
        if (r < 0)
                return r;
        r = container_new(p, TOML_TABLE, hpos, a->depth + 1u, TF_HEADER, &elem);
        if (r < 0)
                return r;
        r = array_add(p, a, elem);
        if (r < 0)
                return r;
        p->current = elem;
        return 0;
}

/* [a.b.c] or [[a.b.c]] */
static int parse_header(Parser *p)
{
        _cleanup_(key_done) Key k = {};
        size_t hpos = p->pos;
        bool aot = peek(p, 1) == '[';
        TomlValue *t = NULL;
        char buf[32];
        int r;

        p->pos += aot ? 2 : 1;
        r = parse_key(p, &k);
        if (r < 0)
                return r;
        if (peek(p, 0) != ']' || (aot && peek(p, 1) != ']'))
                return fail(p, p->pos, -EINVAL, "expected '%s' at the end of the table header, found %s",
                            aot ? "]]" : "]", describe(p, p->pos, buf, sizeof(buf)));
        p->pos += aot ? 2 : 1;

        r = walk_header_path(p, &k, hpos, &t);
        if (r < 0)
                return r;
        return aot ? open_header_array_table(p, &k, hpos, t) : open_header_table(p, &k, hpos, t);
}

/* ---- scalars ---- */

static int parse_bool(Parser *p, TomlValue **ret)
{
        size_t start = p->pos;
        TomlValue *v;
        bool b;

        if (p->len - p->pos >= 4 && memcmp(p->data + p->pos, "true", 4) == 0)
                b = true;
        else if (p->len - p->pos >= 5 && memcmp(p->data + p->pos, "false", 5) == 0)
                b = false;
        else
                return fail(p, start, -EINVAL, "invalid value (expected true or false)");
        v = value_new(p, TOML_BOOLEAN, start);
        if (!v)
                return oom(p);
        v->boolean = b;
        p->pos += b ? 4 : 5;
        *ret = v;
        return 0;
}

/* Digits of the given base with single underscores between them, appended to the scratch buffer. */
static int scan_digits(Parser *p, int base, const char *what)
{
        char buf[32];
        bool any = false;

        for (;;) {
                int c = peek(p, 0);
                bool ok;

                if (base == 16)
                        ok = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                else
                        ok = c >= '0' && c < '0' + base;
                if (ok) {
                        if (buf_putc(&p->scratch, (char)c) < 0)
                                return oom(p);
                        p->pos++;
                        any = true;
                        continue;
                }
                if (c == '_') {
                        int n = peek(p, 1);
                        bool next_ok = base == 16 ? (is_digit(n) || (n >= 'a' && n <= 'f') ||
                                                     (n >= 'A' && n <= 'F'))
                                                  : (n >= '0' && n < '0' + base);
                        if (!any || !next_ok)
                                return fail(p, p->pos, -EINVAL, "underscores in %s must be between digits",
                                            what);
                        p->pos++;
                        continue;
                }
                if (!any)
                        return fail(p, p->pos, -EINVAL, "expected a digit in %s, found %s", what,
                                    describe(p, p->pos, buf, sizeof(buf)));
                return 0;
        }
}

static int digit_value(char c)
{
        if (c >= 'a')
                return c - 'a' + 10;
        if (c >= 'A')
                return c - 'A' + 10;
        return c - '0';
}

/* inf or nan after an optional sign; *ret_found tells whether there was one. */
static int parse_inf_nan(Parser *p, size_t start, bool neg, TomlValue **ret, bool *ret_found)
{
        TomlValue *v;
        bool nan;

        if (p->len - p->pos < 3 ||
            (memcmp(p->data + p->pos, "inf", 3) != 0 && memcmp(p->data + p->pos, "nan", 3) != 0)) {
                *ret_found = false;
                return 0;
        }
        nan = p->data[p->pos] == 'n';
        p->pos += 3;
        v = value_new(p, TOML_FLOAT, start);
        if (!v)
                return oom(p);
        v->fp = nan ? (neg ? -NAN : NAN) : (neg ? -INFINITY : INFINITY);
        *ret = v;
        *ret_found = true;
        return 0;
}

/* 0x..., 0o... or 0b... (unsigned, no sign allowed). */
static int parse_prefixed_integer(Parser *p, size_t start, TomlValue **ret)
{
        int pc = peek(p, 1);
        int base = pc == 'x' ? 16 : pc == 'o' ? 8 : 2;
        uint64_t u = 0;
        TomlValue *v;
        int r;

        p->pos += 2;
        r = scan_digits(p, base,
                        base == 16  ? "hexadecimal integer"
                        : base == 8 ? "octal integer"
                                    : "binary integer");
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->scratch.len; i++) {
                unsigned d = (unsigned)digit_value(p->scratch.data[i]);
                if (u > ((uint64_t)INT64_MAX - d) / (unsigned)base)
                        return fail(p, start, -EINVAL, "integer out of range (64-bit signed)");
                u = u * (unsigned)base + d;
        }
        v = value_new(p, TOML_INTEGER, start);
        if (!v)
                return oom(p);
        v->integer = (int64_t)u;
        *ret = v;
        return 0;
}

/* Decimal digits, then an optional fraction and exponent, copied into the scratch buffer (without
 * underscores, exponent marker as 'e'). *ret_is_float tells whether there was a fraction or exponent. */
static int scan_decimal(Parser *p, size_t start, bool *ret_is_float)
{
        bool is_float = false;
        int c, r;

        if (!is_digit(peek(p, 0))) {
                char buf[32];
                return fail(p, start, -EINVAL, "invalid value starting with %s",
                            describe(p, start, buf, sizeof(buf)));
        }
        if (peek(p, 0) == '0' && (is_digit(peek(p, 1)) || peek(p, 1) == '_'))
                return fail(p, start, -EINVAL, "leading zeros are not allowed in numbers");
        r = scan_digits(p, 10, "number");
        if (r < 0)
                return r;
        if (peek(p, 0) == '.') {
                is_float = true;
                if (buf_putc(&p->scratch, '.') < 0)
                        return oom(p);
                p->pos++;
                r = scan_digits(p, 10, "fractional part");
                if (r < 0)
                        return r;
        }
        if (peek(p, 0) == 'e' || peek(p, 0) == 'E') {
                is_float = true;
                if (buf_putc(&p->scratch, 'e') < 0)
                        return oom(p);
                p->pos++;
                c = peek(p, 0);
                if (c == '+' || c == '-') {
                        if (buf_putc(&p->scratch, (char)c) < 0)
                                return oom(p);
                        p->pos++;
                }
                r = scan_digits(p, 10, "exponent");
                if (r < 0)
                        return r;
        }
        *ret_is_float = is_float;
        return 0;
}

/* Converts the float text in the scratch buffer (locale-independently). */
static int decimal_to_float(Parser *p, size_t start, bool neg, TomlValue **ret)
{
        TomlValue *v;
        double d;
        char *end;

        if (!p->c_locale) {
                p->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
                if (!p->c_locale)
                        return oom(p);
        }
        errno = 0;
        d = strtod_l(p->scratch.data, &end, p->c_locale);
        if (*end != 0)
                return fail(p, start, -EINVAL, "invalid float");
        if (errno == ERANGE && isinf(d))
                return fail(p, start, -EINVAL, "float out of range");
        v = value_new(p, TOML_FLOAT, start);
        if (!v)
                return oom(p);
        v->fp = neg ? -d : d;
        *ret = v;
        return 0;
}

/* Converts the decimal digits in the scratch buffer to a 64-bit signed integer. */
static int decimal_to_integer(Parser *p, size_t start, bool neg, TomlValue **ret)
{
        uint64_t u = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        TomlValue *v;

        for (size_t i = 0; i < p->scratch.len; i++) {
                unsigned d = (unsigned)(p->scratch.data[i] - '0');
                if (u > (limit - d) / 10)
                        return fail(p, start, -EINVAL, "integer out of range (64-bit signed)");
                u = u * 10 + d;
        }
        v = value_new(p, TOML_INTEGER, start);
        if (!v)
                return oom(p);
        v->integer = neg ? (int64_t)(0 - u) : (int64_t)u;
        *ret = v;
        return 0;
}

static int parse_number(Parser *p, TomlValue **ret)
{
        size_t start = p->pos;
        bool neg = false, found = false, is_float = false;
        int c = peek(p, 0), r;

        buf_truncate(&p->scratch, 0);
        if (c == '+' || c == '-') {
                neg = c == '-';
                p->pos++;
        }
        r = parse_inf_nan(p, start, neg, ret, &found);
        if (r < 0 || found)
                return r;
        if (p->pos == start && c == '0' && (peek(p, 1) == 'x' || peek(p, 1) == 'o' || peek(p, 1) == 'b'))
                return parse_prefixed_integer(p, start, ret);
        r = scan_decimal(p, start, &is_float);
        if (r < 0)
                return r;
        return is_float ? decimal_to_float(p, start, neg, ret) : decimal_to_integer(p, start, neg, ret);
}

/* Reads exactly n digits at pos. */
static int read_fixed(Parser *p, unsigned n, int *ret)
{
        int v = 0;

        for (unsigned i = 0; i < n; i++) {
                int c = peek(p, i);
                if (!is_digit(c))
                        return -1;
                v = v * 10 + (c - '0');
        }
        p->pos += n;
        *ret = v;
        return 0;
}

static bool looks_like_date(const Parser *p)
{
        return is_digit(peek(p, 0)) && is_digit(peek(p, 1)) && is_digit(peek(p, 2)) &&
               is_digit(peek(p, 3)) && peek(p, 4) == '-';
}

static bool looks_like_time(const Parser *p, size_t off)
{
        return is_digit(peek(p, off)) && is_digit(peek(p, off + 1)) && peek(p, off + 2) == ':';
}

static int days_in_month(int year, int month)
{
        static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return month == 2 && leap ? 29 : days[month - 1];
}

static int parse_time_part(Parser *p, TomlDatetime *dt)
{
        size_t start = p->pos;

        if (read_fixed(p, 2, &dt->hour) < 0 || peek(p, 0) != ':')
                return fail(p, p->pos, -EINVAL, "invalid time: expected HH:MM:SS");
        p->pos++;
        if (read_fixed(p, 2, &dt->minute) < 0)
                return fail(p, p->pos, -EINVAL, "invalid time: expected HH:MM:SS");
        if (peek(p, 0) != ':')
                return fail(p, p->pos, -EINVAL, "invalid time: seconds are required (HH:MM:SS)");
        p->pos++;
        if (read_fixed(p, 2, &dt->second) < 0)
                return fail(p, p->pos, -EINVAL, "invalid time: expected HH:MM:SS");
        if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
                return fail(p, start, -EINVAL, "invalid time %02d:%02d:%02d: out of range", dt->hour,
                            dt->minute, dt->second);
        if (peek(p, 0) == '.') {
                unsigned n = 0;
                uint32_t ns = 0;

                p->pos++;
                if (!is_digit(peek(p, 0)))
                        return fail(p, p->pos, -EINVAL, "invalid time: expected digits after '.'");
                while (is_digit(peek(p, 0))) {
                        if (n < 9) {
                                ns = ns * 10 + (uint32_t)(peek(p, 0) - '0');
                                n++;
                        }
                        p->pos++;
                }
                for (; n < 9; n++)
                        ns *= 10;
                dt->nanosecond = ns;
        }
        return 0;
}

static int parse_datetime(Parser *p, TomlValue **ret)
{
        size_t start = p->pos;
        TomlDatetime dt = {};
        TomlType type;
        TomlValue *v;
        int r, c;

        if (looks_like_time(p, 0)) {
                r = parse_time_part(p, &dt);
                if (r < 0)
                        return r;
                type = TOML_TIME_LOCAL;
        } else {
                if (read_fixed(p, 4, &dt.year) < 0 || peek(p, 0) != '-')
                        return fail(p, start, -EINVAL, "invalid date: expected YYYY-MM-DD");
                p->pos++;
                if (read_fixed(p, 2, &dt.month) < 0 || peek(p, 0) != '-')
                        return fail(p, start, -EINVAL, "invalid date: expected YYYY-MM-DD");
                p->pos++;
                if (read_fixed(p, 2, &dt.day) < 0)
                        return fail(p, start, -EINVAL, "invalid date: expected YYYY-MM-DD");
                if (dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
                        return fail(p, start, -EINVAL, "invalid date %04d-%02d-%02d: out of range", dt.year,
                                    dt.month, dt.day);
                type = TOML_DATE_LOCAL;
                c = peek(p, 0);
                if (c == 'T' || c == 't' || (c == ' ' && looks_like_time(p, 1))) {
                        p->pos++;
                        r = parse_time_part(p, &dt);
                        if (r < 0)
                                return r;
                        type = TOML_DATETIME_LOCAL;
                        c = peek(p, 0);
                        if (c == 'Z' || c == 'z') {
                                p->pos++;
                                type = TOML_DATETIME;
                        } else if (c == '+' || c == '-') {
                                size_t opos = p->pos;
                                int oh, om;

                                p->pos++;
                                if (read_fixed(p, 2, &oh) < 0 || peek(p, 0) != ':')
                                        return fail(p, opos, -EINVAL,
                                                    "invalid time offset: expected +HH:MM or -HH:MM");
                                p->pos++;
                                if (read_fixed(p, 2, &om) < 0)
                                        return fail(p, opos, -EINVAL,
                                                    "invalid time offset: expected +HH:MM or -HH:MM");
                                if (oh > 23 || om > 59)
                                        return fail(p, opos, -EINVAL, "invalid time offset: out of range");
                                dt.offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
                                type = TOML_DATETIME;
                        }
                }
        }
        v = value_new(p, type, start);
        if (!v)
                return oom(p);
        v->dt = dt;
        *ret = v;
        return 0;
}

/* ---- arrays and inline tables ---- */

static int parse_array(Parser *p, unsigned depth, TomlValue **ret)
{
        _cleanup_toml_ TomlValue *a = NULL;
        char buf[32];
        int r;

        r = container_new(p, TOML_ARRAY, p->pos, depth, 0, &a);
        if (r < 0)
                return r;
        p->pos++;
        for (;;) {
                TomlValue *v;

                r = skip_ws_comments_newlines(p);
                if (r < 0)
                        return r;
                if (peek(p, 0) == ']')
                        break;
                r = parse_value(p, depth + 1, &v);
                if (r < 0)
                        return r;
                r = array_add(p, a, v);
                if (r < 0)
                        return r;
                r = skip_ws_comments_newlines(p);
                if (r < 0)
                        return r;
                if (peek(p, 0) == ',') {
                        p->pos++;
                        continue;
                }
                if (peek(p, 0) == ']')
                        break;
                if (at_eof(p))
                        return fail(p, p->pos, -EINVAL, "unterminated array");
                return fail(p, p->pos, -EINVAL, "expected ',' or ']' in array, found %s",
                            describe(p, p->pos, buf, sizeof(buf)));
        }
        p->pos++;
        *ret = TAKE_PTR(a);
        return 0;
}

static int check_inline_char(Parser *p)
{
        char buf[32];
        int c = peek(p, 0);

        if (c == '\n' || c == '\r')
                return fail(p, p->pos, -EINVAL, "newlines are not allowed in inline tables");
        if (c == '#')
                return fail(p, p->pos, -EINVAL, "comments are not allowed in inline tables");
        if (c == -1)
                return fail(p, p->pos, -EINVAL, "unterminated inline table");
        return fail(p, p->pos, -EINVAL, "expected ',' or '}' in inline table, found %s",
                    describe(p, p->pos, buf, sizeof(buf)));
}

static int parse_inline_table(Parser *p, unsigned depth, TomlValue **ret)
{
        _cleanup_toml_ TomlValue *t = NULL;
        int r;

        r = container_new(p, TOML_TABLE, p->pos, depth, TF_INLINE, &t);
        if (r < 0)
                return r;
        p->pos++;
        skip_ws(p);
        if (peek(p, 0) != '}') {
                for (;;) {
                        int c = peek(p, 0);
                        if (c == '\n' || c == '\r' || c == '#' || c == -1)
                                return check_inline_char(p);
                        r = parse_keyval(p, t);
                        if (r < 0)
                                return r;
                        skip_ws(p);
                        if (peek(p, 0) == '}')
                                break;
                        if (peek(p, 0) != ',')
                                return check_inline_char(p);
                        p->pos++;
                        skip_ws(p);
                        if (peek(p, 0) == '}')
                                return fail(p, p->pos, -EINVAL, "trailing comma in inline table");
                }
        }
        p->pos++;
        *ret = TAKE_PTR(t);
        return 0;
}

/* Parses a value at pos; depth is the depth it gets if it is an array or inline table. */
static int parse_value(Parser *p, unsigned depth, TomlValue **ret)
{
        size_t start = p->pos;
        char buf[32];
        int c = peek(p, 0);
        TomlValue *v;
        char *s;
        size_t len;
        int r;

        switch (c) {
        case '"':
        case '\'':
                r = parse_string(p, (char)c, peek(p, 1) == c && peek(p, 2) == c, &s, &len);
                if (r < 0)
                        return r;
                v = value_new(p, TOML_STRING, start);
                if (!v) {
                        free(s);
                        return oom(p);
                }
                v->string.s = s;
                v->string.len = len;
                *ret = v;
                return 0;
        case 't':
        case 'f':
                return parse_bool(p, ret);
        case '[':
                return parse_array(p, depth, ret);
        case '{':
                return parse_inline_table(p, depth, ret);
        case 'i':
        case 'n':
        case '+':
        case '-':
                return parse_number(p, ret);
        default:
                if (is_digit(c)) {
                        if (looks_like_date(p) || looks_like_time(p, 0))
                                return parse_datetime(p, ret);
                        return parse_number(p, ret);
                }
                if (c == -1 || c == '\n' || (c == '\r' && peek(p, 1) == '\n') || c == '#')
                        return fail(p, start, -EINVAL, "expected a value, found %s",
                                    describe(p, start, buf, sizeof(buf)));
                return fail(p, start, -EINVAL, "invalid value starting with %s",
                            describe(p, start, buf, sizeof(buf)));
        }
}

/* ---- the document ---- */

static int parse_document(Parser *p)
{
        char buf[32];
        size_t bad;
        int r;

        if (p->len >= 3 && memcmp(p->data, "\xEF\xBB\xBF", 3) == 0)
                p->pos = p->base = 3;
        bad = utf8_invalid_at(p->data, p->pos, p->len);
        if (bad < p->len)
                return fail(p, bad, -EINVAL, "invalid UTF-8 (byte 0x%02X)", (unsigned char)p->data[bad]);

        r = container_new(p, TOML_TABLE, p->pos, 0, TF_HEADER, &p->root);
        if (r < 0)
                return r;
        p->current = p->root;

        for (;;) {
                size_t nl;
                int c;

                skip_ws(p);
                if (at_eof(p))
                        return 0;
                c = peek(p, 0);
                if (c == '#') {
                        r = skip_comment(p);
                        if (r < 0)
                                return r;
                        continue;
                }
                nl = newline_len(p);
                if (nl > 0) {
                        p->pos += nl;
                        continue;
                }
                if (c == '\r')
                        return fail(p, p->pos, -EINVAL,
                                    "bare carriage return (not followed by a line feed)");
                if (c == '[') {
                        r = parse_header(p);
                        if (r < 0)
                                return r;
                        r = expect_end_of_line(p, "the table header");
                } else if (c == '"' || c == '\'' || is_bare_key_char(c)) {
                        r = parse_keyval(p, p->current);
                        if (r < 0)
                                return r;
                        r = expect_end_of_line(p, "the value");
                } else
                        r = fail(p, p->pos, -EINVAL, "expected a key or a table header, found %s",
                                 describe(p, p->pos, buf, sizeof(buf)));
                if (r < 0)
                        return r;
        }
}

int toml_parse(const char *data, size_t len, TomlValue **ret_root, TomlError *ret_error)
{
        Parser p = {
                .data = data ? data : "",
                .len = data ? len : 0,
                .scratch = BUF_INIT(SIZE_MAX - 1),
        };
        int r;

        if ((!data && len > 0) || !ret_root) {
                if (ret_error) {
                        *ret_error = (TomlError){};
                        snprintf(ret_error->message, sizeof(ret_error->message), "invalid arguments");
                }
                return -EINVAL;
        }
        r = parse_document(&p);
        buf_free(&p.scratch);
        if (p.c_locale)
                freelocale(p.c_locale);
        if (r < 0) {
                toml_free(p.root);
                if (ret_error)
                        *ret_error = p.error;
                return r;
        }
        *ret_root = p.root;
        return 0;
}

/* ---- accessors ---- */

TomlType toml_type(const TomlValue *v)
{
        return (TomlType)v->type;
}

const char *toml_type_name(TomlType t)
{
        switch (t) {
        case TOML_TABLE:
                return "table";
        case TOML_ARRAY:
                return "array";
        case TOML_STRING:
                return "string";
        case TOML_INTEGER:
                return "integer";
        case TOML_FLOAT:
                return "float";
        case TOML_BOOLEAN:
                return "boolean";
        case TOML_DATETIME:
                return "datetime";
        case TOML_DATETIME_LOCAL:
                return "datetime-local";
        case TOML_DATE_LOCAL:
                return "date-local";
        case TOML_TIME_LOCAL:
                return "time-local";
        }
        return "unknown";
}

unsigned toml_line(const TomlValue *v)
{
        return v ? v->line : 0;
}

unsigned toml_column(const TomlValue *v)
{
        return v ? v->column : 0;
}

size_t toml_table_size(const TomlValue *table)
{
        return table && table->type == TOML_TABLE ? table->table.n : 0;
}

const char *toml_table_key_at_n(const TomlValue *table, size_t i, size_t *ret_len)
{
        if (!table || table->type != TOML_TABLE || i >= table->table.n)
                return NULL;
        if (ret_len)
                *ret_len = table->table.entries[i].key_len;
        return table->table.entries[i].key;
}

const char *toml_table_key_at(const TomlValue *table, size_t i)
{
        return toml_table_key_at_n(table, i, NULL);
}

const TomlValue *toml_table_value_at(const TomlValue *table, size_t i)
{
        if (!table || table->type != TOML_TABLE || i >= table->table.n)
                return NULL;
        return table->table.entries[i].value;
}

const TomlValue *toml_table_get_n(const TomlValue *table, const char *key, size_t len)
{
        const TomlEntry *e;

        if (!table || table->type != TOML_TABLE || (!key && len > 0))
                return NULL;
        e = table_find(table, key ? key : "", len);
        return e ? e->value : NULL;
}

const TomlValue *toml_table_get(const TomlValue *table, const char *key)
{
        if (!key)
                return NULL;
        return toml_table_get_n(table, key, strlen(key));
}

size_t toml_array_size(const TomlValue *array)
{
        return array && array->type == TOML_ARRAY ? array->array.n : 0;
}

const TomlValue *toml_array_get(const TomlValue *array, size_t i)
{
        if (!array || array->type != TOML_ARRAY || i >= array->array.n)
                return NULL;
        return array->array.items[i];
}

const char *toml_string(const TomlValue *v, size_t *ret_len)
{
        if (!v || v->type != TOML_STRING)
                return NULL;
        if (ret_len)
                *ret_len = v->string.len;
        return v->string.s;
}

int64_t toml_integer(const TomlValue *v)
{
        return v && v->type == TOML_INTEGER ? v->integer : 0;
}

double toml_float(const TomlValue *v)
{
        return v && v->type == TOML_FLOAT ? v->fp : 0.0;
}

bool toml_boolean(const TomlValue *v)
{
        return v && v->type == TOML_BOOLEAN ? v->boolean : false;
}

const TomlDatetime *toml_datetime(const TomlValue *v)
{
        if (!v || v->type < TOML_DATETIME || v->type > TOML_TIME_LOCAL)
                return NULL;
        return &v->dt;
}

/* greenboot-conf.c — reading greenboot.conf's plain shell assignments as data (see greenboot-conf.h). */
#include "greenboot-conf.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strutil.h"
#include "strv.h"

typedef struct Parser {
        const char *p, *end;
        unsigned line;
        bool plain; /* the statement so far is a plain assignment (nothing bash would run or expand) */
        char value[GREENBOOT_CONF_MAX_VALUE + 1];
        size_t len;
        Error *e;
} Parser;

static bool at_end(const Parser *x)
{
        return x->p >= x->end;
}

static int warn(GreenbootConf *c, unsigned line, const char *what)
{
        char buf[256];

        snprintf(buf, sizeof(buf), "greenboot.conf:%u: %s", line, what);
        return strv_push(&c->warnings, &c->n_warnings, buf);
}

/* Blanks (not newlines). */
static void skip_blanks(Parser *x)
{
        while (!at_end(x) && (*x->p == ' ' || *x->p == '\t'))
                x->p++;
}

/* The rest of the physical line, newline included. */
static void skip_line(Parser *x)
{
        while (!at_end(x) && *x->p != '\n')
                x->p++;
        if (!at_end(x)) {
                x->p++;
                x->line++;
        }
}

/* Blanks, newlines and comments, between statements or array elements. */
static void skip_space(Parser *x)
{
        for (;;) {
                skip_blanks(x);
                if (at_end(x))
                        return;
                if (*x->p == '#')
                        skip_line(x);
                else if (*x->p == '\n') {
                        x->p++;
                        x->line++;
                } else if (*x->p == '\\' && x->p + 1 < x->end && x->p[1] == '\n') {
                        x->p += 2; /* line continuation */
                        x->line++;
                } else
                        return;
        }
}

static int put(Parser *x, char ch)
{
        if (x->len >= GREENBOOT_CONF_MAX_VALUE)
                return error_setf(x->e, -EINVAL, "greenboot.conf:%u: value longer than %d bytes", x->line,
                                  GREENBOOT_CONF_MAX_VALUE);
        x->value[x->len++] = ch;
        return 0;
}

static int single_quoted(Parser *x)
{
        unsigned start = x->line;
        int r;

        for (x->p++; !at_end(x) && *x->p != '\''; x->p++) {
                if (*x->p == '\n')
                        x->line++;
                if ((r = put(x, *x->p)) < 0)
                        return r;
        }
        if (at_end(x))
                return error_setf(x->e, -EINVAL, "greenboot.conf:%u: unterminated single quote", start);
        x->p++;
        return 0;
}

static int double_quoted(Parser *x)
{
        unsigned start = x->line;
        int r;

        for (x->p++; !at_end(x) && *x->p != '"'; x->p++) {
                char ch = *x->p;
                if (ch == '$' || ch == '`')
                        x->plain = false; /* an expansion or a command: never evaluated */
                else if (ch == '\\' && x->p + 1 < x->end && strchr("\"\\$`\n", x->p[1])) {
                        ch = *++x->p;
                        if (ch == '\n') {
                                x->line++;
                                continue;
                        }
                } else if (ch == '\n')
                        x->line++;
                if ((r = put(x, ch)) < 0)
                        return r;
        }
        if (at_end(x))
                return error_setf(x->e, -EINVAL, "greenboot.conf:%u: unterminated double quote", start);
        x->p++;
        return 0;
}

/* One shell word (quoted and unquoted parts) into x->value. Stops at a blank, a newline, ')' or the end. */
static int word(Parser *x)
{
        int r;

        x->len = 0;
        while (!at_end(x)) {
                char ch = *x->p;
                if (ch == ' ' || ch == '\t' || ch == '\n' || ch == ')')
                        break;
                if (ch == '\'')
                        r = single_quoted(x);
                else if (ch == '"')
                        r = double_quoted(x);
                else if (ch == '\\' && x->p + 1 < x->end) {
                        if (x->p[1] == '\n')
                                x->line++;
                        r = x->p[1] == '\n' ? 0 : put(x, x->p[1]);
                        x->p += 2;
                } else {
                        if (strchr("$`;&|<>(", ch))
                                x->plain = false;
                        r = put(x, ch);
                        x->p++;
                }
                if (r < 0)
                        return r;
        }
        x->value[x->len] = 0;
        return 0;
}

/* NAME=(a b ...): the words of the array, over as many lines as it takes. */
static int array(Parser *x, char ***ret, size_t *ret_n)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        unsigned start = x->line;
        int r;

        for (x->p++;;) {
                skip_space(x);
                if (at_end(x))
                        return error_setf(x->e, -EINVAL, "greenboot.conf:%u: array without its closing ')'",
                                          start);
                if (*x->p == ')') {
                        x->p++;
                        break;
                }
                if ((r = word(x)) < 0)
                        return r;
                if (n >= GREENBOOT_CONF_MAX_DISABLED)
                        return error_setf(x->e, -EINVAL, "greenboot.conf:%u: array of more than %d words",
                                          start, GREENBOOT_CONF_MAX_DISABLED);
                if ((r = strv_push(&l, &n, x->value)) < 0)
                        return error_setf(x->e, r, "out of memory");
        }
        if (!l && !(l = calloc(1, sizeof(char *)))) /* NAME=(): an empty list, not none */
                return error_setf(x->e, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int parse_count(GreenbootConf *c, unsigned line, const char *name, const char *v, unsigned max,
                       unsigned *field)
{
        uint64_t n;
        char what[160];

        if (safe_atou64(v, &n) >= 0 && n <= max) {
                *field = (unsigned)n;
                return 0;
        }
        snprintf(what, sizeof(what), "%s: '%.32s' is not a number from 0 to %u; the default is kept", name,
                 v, max);
        return warn(c, line, what);
}

/* A plain assignment of NAME: scalar value (x->value) or array (l, n; taken). */
static int assign(GreenbootConf *c, unsigned line, const char *name, const char *v, char ***l, size_t n)
{
        if (streq(name, "DISABLED_HEALTHCHECKS")) {
                strv_free(c->disabled_healthchecks);
                c->disabled_healthchecks = NULL;
                c->n_disabled_healthchecks = 0;
                if (*l) {
                        c->disabled_healthchecks = TAKE_PTR(*l);
                        c->n_disabled_healthchecks = n;
                        return 0;
                }
                /* a scalar is bash's one-element array; "" is none */
                if (*v)
                        return strv_push(&c->disabled_healthchecks, &c->n_disabled_healthchecks, v);
                c->disabled_healthchecks = calloc(1, sizeof(char *));
                return c->disabled_healthchecks ? 0 : -ENOMEM;
        }
        if (*l) /* bash: NAME=(x) makes an array whose first element is what $NAME reads */
                v = n > 0 ? (*l)[0] : "";
        if (streq(name, "GREENBOOT_MAX_BOOT_ATTEMPTS"))
                return parse_count(c, line, name, v, 1000, &c->max_boot_attempts);
        if (streq(name, "GREENBOOT_WATCHDOG_GRACE_PERIOD"))
                return parse_count(c, line, name, v, 24 * 366, &c->watchdog_grace_hours);
        if (streq(name, "GREENBOOT_WATCHDOG_CHECK_ENABLED")) {
                c->watchdog_check_enabled = streq(v, "true"); /* greenboot tests for "true" exactly */
                if (!streq(v, "true") && !streq(v, "false"))
                        return warn(c, line,
                                    "GREENBOOT_WATCHDOG_CHECK_ENABLED is neither true nor false: off");
                return 0;
        }
        return 0; /* other variables are the scripts' business */
}

static bool name_char(char ch, bool first)
{
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
               (!first && ch >= '0' && ch <= '9');
}

/* One statement: [export] NAME=VALUE, or anything else (skipped with a warning). */
static int statement(Parser *x, GreenbootConf *c)
{
        _cleanup_strv_free_ char **l = NULL;
        char name[64];
        size_t n = 0, k = 0;
        unsigned line = x->line;
        int r;

        x->plain = true;
        if (x->end - x->p > 7 && strneq(x->p, "export", 6) && (x->p[6] == ' ' || x->p[6] == '\t')) {
                x->p += 6;
                skip_blanks(x);
        }
        while (!at_end(x) && name_char(*x->p, k == 0) && k < sizeof(name) - 1)
                name[k++] = *x->p++;
        name[k] = 0;
        if (k == 0 || at_end(x) || *x->p != '=') {
                skip_line(x);
                return warn(c, line,
                            "not a plain assignment: skipped (the file is read as data, never run)");
        }
        x->p++;
        r = !at_end(x) && *x->p == '(' ? array(x, &l, &n) : word(x);
        if (r < 0)
                return r;
        skip_blanks(x);
        if (!at_end(x) && *x->p != '\n' && *x->p != '#')
                x->plain = false; /* a second word: a command run with NAME in its environment, or worse */
        if (!x->plain) {
                skip_line(x);
                return warn(c, line, "expansions, commands and operators are never run: line skipped");
        }
        skip_line(x);
        return assign(c, line, name, x->value, &l, n);
}

int greenboot_conf_init(GreenbootConf *ret)
{
        assert(ret);
        *ret = (GreenbootConf){
                .max_boot_attempts = GREENBOOT_DEFAULT_MAX_BOOT_ATTEMPTS,
                .watchdog_grace_hours = GREENBOOT_DEFAULT_WATCHDOG_GRACE_HOURS,
        };
        ret->disabled_healthchecks = calloc(1, sizeof(char *));
        ret->warnings = calloc(1, sizeof(char *));
        if (!ret->disabled_healthchecks || !ret->warnings) {
                greenboot_conf_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int greenboot_conf_parse(const char *data, size_t len, GreenbootConf *ret, Error *e)
{
        GreenbootConf c;
        Parser x = { .p = data, .end = data + len, .line = 1, .e = e };
        int r;

        assert(data || len == 0);
        assert(ret);
        if (len > GREENBOOT_CONF_MAX_BYTES)
                return error_setf(e, -EFBIG, "greenboot.conf: larger than %d bytes",
                                  GREENBOOT_CONF_MAX_BYTES);
        if (memchr(data, 0, len))
                return error_setf(e, -EINVAL, "greenboot.conf: contains a NUL byte");
        if ((r = greenboot_conf_init(&c)) < 0)
                return error_setf(e, r, "out of memory");
        for (;;) {
                skip_space(&x);
                if (at_end(&x))
                        break;
                if ((r = statement(&x, &c)) < 0) {
                        greenboot_conf_done(&c);
                        return r == -ENOMEM ? error_setf(e, r, "out of memory") : r;
                }
        }
        *ret = c;
        return 0;
}

bool greenboot_conf_disabled(const GreenbootConf *c, const char *name)
{
        for (size_t i = 0; i < c->n_disabled_healthchecks; i++)
                if (streq(c->disabled_healthchecks[i], name))
                        return true;
        return false;
}

void greenboot_conf_done(GreenbootConf *c)
{
        if (!c)
                return;
        strv_free(c->disabled_healthchecks);
        strv_free(c->warnings);
        *c = (GreenbootConf){};
}

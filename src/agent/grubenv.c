/* grubenv.c — GRUB's environment block parsed, edited and formatted in memory (grubenv.h). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grubenv.h"
#include "strutil.h"

#define GRUBENV_NAME_MAX 64
#define HEADER_LEN (sizeof(GRUBENV_SIGNATURE) - 1 + sizeof(GRUBENV_WARNING) - 1)

bool grubenv_name_valid(const char *name)
{
        size_t n;

        assert(name);
        n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
        return n > 0 && n <= GRUBENV_NAME_MAX && name[n] == '\0';
}

static size_t escaped_len(const char *value)
{
        size_t n = 0;

        for (const char *p = value; *p; p++)
                n += (*p == '\\' || *p == '\n') ? 2 : 1;
        return n;
}

static size_t line_len(const char *name, const char *value)
{
        return strlen(name) + 1 + escaped_len(value) + 1;
}

size_t grubenv_vars_size(const GrubEnv *env)
{
        size_t n = 0;

        assert(env);
        for (size_t i = 0; i < env->n_vars; i++)
                n += line_len(env->vars[i].name, env->vars[i].value);
        return n;
}

static GrubEnvVar *find_var(const GrubEnv *env, const char *name)
{
        for (size_t i = 0; i < env->n_vars; i++)
                if (streq(env->vars[i].name, name))
                        return &env->vars[i];
        return NULL;
}

const char *grubenv_get(const GrubEnv *env, const char *name)
{
        const GrubEnvVar *v;

        assert(env);
        assert(name);
        v = find_var(env, name);
        return v ? v->value : NULL;
}

void grubenv_done(GrubEnv *env)
{
        if (!env)
                return;
        for (size_t i = 0; i < env->n_vars; i++) {
                free(env->vars[i].name);
                free(env->vars[i].value);
        }
        free(env->vars);
        *env = GRUBENV_INIT;
}

static void grubenv_donep(GrubEnv *env)
{
        grubenv_done(env);
}

/* Appends name=value, taking both strings (freed on failure). */
static int push_var(GrubEnv *env, char *name, char *value)
{
        GrubEnvVar *vars;

        if (!name || !value || env->n_vars >= GRUBENV_MAX_VARS) {
                free(name);
                free(value);
                return env->n_vars >= GRUBENV_MAX_VARS ? -E2BIG : -ENOMEM;
        }
        vars = realloc(env->vars, (env->n_vars + 1) * sizeof *vars);
        if (!vars) {
                free(name);
                free(value);
                return -ENOMEM;
        }
        env->vars = vars;
        env->vars[env->n_vars++] = (GrubEnvVar){ .name = name, .value = value };
        return 0;
}

/* A comment line from p: returns the offset after its newline, or len when it is the final padding
 * (nothing but '#' up to the end). -EINVAL for a final line that is neither. */
static int parse_comment(const char *data, size_t len, size_t p, size_t *ret_next, Error *e)
{
        for (size_t i = p; i < len; i++) {
                if (data[i] == '\n') {
                        *ret_next = i + 1;
                        return 0;
                }
                if (data[i] == '\\')
                        i++;
        }
        for (size_t i = p; i < len; i++)
                if (data[i] != '#')
                        return error_setf(e, -EINVAL,
                                          "offset %zu: the padding holds a character other than '#'", i);
        *ret_next = len;
        return 0;
}

/* Unescapes the value starting at p into a new string; *ret_next is the offset after its newline. */
static int parse_value(const char *data, size_t len, size_t p, const char *name, char **ret,
                       size_t *ret_next, Error *e)
{
        _cleanup_free_ char *v = malloc(len - p + 1);
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = p; i < len; i++) {
                if (data[i] == '\n') {
                        v[n] = '\0';
                        *ret = TAKE_PTR(v);
                        *ret_next = i + 1;
                        return 0;
                }
                if (data[i] == '\\') {
                        if (i + 1 >= len)
                                break;
                        if (data[i + 1] != '\\' && data[i + 1] != '\n')
                                return error_setf(e, -EINVAL,
                                                  "offset %zu: variable %s: invalid escape '\\%c'", i, name,
                                                  data[i + 1]);
                        i++;
                }
                v[n++] = data[i];
        }
        return error_setf(e, -EINVAL, "variable %s: the value runs to the end of the block", name);
}

/* One "name=value\n" line at p. */
static int parse_var(GrubEnv *env, const char *data, size_t len, size_t p, size_t *ret_next, Error *e)
{
        const char *eq = memchr(data + p, '=', len - p);
        const char *nl = memchr(data + p, '\n', len - p);
        _cleanup_free_ char *name = NULL;
        char *value = NULL;
        int r;

        if (!eq || (nl && nl < eq))
                return error_setf(e, -EINVAL, "offset %zu: a line that is neither a comment nor name=value",
                                  p);
        name = strndup(data + p, (size_t)(eq - (data + p)));
        if (!name)
                return -ENOMEM;
        if (!grubenv_name_valid(name))
                return error_setf(e, -EINVAL, "offset %zu: invalid variable name '%.64s'", p, name);
        if (find_var(env, name))
                return error_setf(e, -EINVAL, "offset %zu: variable %s set twice", p, name);
        r = parse_value(data, len, (size_t)(eq - data) + 1, name, &value, ret_next, e);
        if (r < 0)
                return r;
        r = push_var(env, TAKE_PTR(name), value);
        if (r == -E2BIG)
                return error_setf(e, r, "offset %zu: more than %d variables", p, GRUBENV_MAX_VARS);
        return r;
}

int grubenv_parse(const char *data, size_t len, GrubEnv *ret, Error *e)
{
        _cleanup_(grubenv_donep) GrubEnv env = GRUBENV_INIT;
        const char *nul;
        size_t p;
        int r;

        assert(data || len == 0);
        assert(ret);
        if (len != GRUBENV_SIZE)
                return error_setf(e, -EINVAL, "the block is %zu bytes, expected %d", len, GRUBENV_SIZE);
        nul = memchr(data, '\0', len);
        if (nul)
                return error_setf(e, -EINVAL, "offset %zu: a NUL byte", (size_t)(nul - data));
        if (!strneq(data, GRUBENV_SIGNATURE, sizeof(GRUBENV_SIGNATURE) - 1))
                return error_setf(e, -EINVAL, "missing the signature \"# GRUB Environment Block\"");
        for (p = sizeof(GRUBENV_SIGNATURE) - 1; p < len;) {
                if (data[p] == '#')
                        r = parse_comment(data, len, p, &p, e);
                else
                        r = parse_var(&env, data, len, p, &p, e);
                if (r == -ENOMEM)
                        return error_setf(e, r, "%m");
                if (r < 0)
                        return r;
        }
        *ret = env;
        env = GRUBENV_INIT;
        return 0;
}

int grubenv_set(GrubEnv *env, const char *name, const char *value, Error *e)
{
        GrubEnvVar *v;
        size_t size;
        char *copy;
        int r;

        assert(env);
        assert(name);
        assert(value);
        if (!grubenv_name_valid(name))
                return error_setf(e, -EINVAL, "invalid variable name '%.64s'", name);
        v = find_var(env, name);
        size = grubenv_vars_size(env) + line_len(name, value) - (v ? line_len(v->name, v->value) : 0);
        if (HEADER_LEN + size > GRUBENV_SIZE)
                return error_setf(e, -ENOSPC, "setting %s: environment block too small", name);
        if (!v) {
                r = push_var(env, strdup(name), strdup(value));
                return r < 0 ? error_setf(e, r, "setting %s: %m", name) : 0;
        }
        copy = strdup(value);
        if (!copy)
                return error_setf(e, -ENOMEM, "setting %s: %m", name);
        free(v->value);
        v->value = copy;
        return 0;
}

int grubenv_unset(GrubEnv *env, const char *name)
{
        GrubEnvVar *v;
        size_t i;

        assert(env);
        assert(name);
        v = find_var(env, name);
        if (!v)
                return 0;
        i = (size_t)(v - env->vars);
        free(v->name);
        free(v->value);
        memmove(env->vars + i, env->vars + i + 1, (env->n_vars - i - 1) * sizeof *env->vars);
        env->n_vars--;
        return 1;
}

int grubenv_format(const GrubEnv *env, char ret[static GRUBENV_SIZE], Error *e)
{
        size_t size, p = 0;

        assert(env);
        assert(ret);
        size = grubenv_vars_size(env);
        if (HEADER_LEN + size > GRUBENV_SIZE)
                return error_setf(e, -ENOSPC,
                                  "the variables take %zu bytes, %zu fit: environment block too small", size,
                                  GRUBENV_SIZE - HEADER_LEN);
        memcpy(ret, GRUBENV_SIGNATURE GRUBENV_WARNING, HEADER_LEN);
        p = HEADER_LEN;
        for (size_t i = 0; i < env->n_vars; i++) {
                size_t n = strlen(env->vars[i].name);

                memcpy(ret + p, env->vars[i].name, n);
                p += n;
                ret[p++] = '=';
                for (const char *c = env->vars[i].value; *c; c++) {
                        if (*c == '\\' || *c == '\n')
                                ret[p++] = '\\';
                        ret[p++] = *c;
                }
                ret[p++] = '\n';
        }
        memset(ret + p, '#', GRUBENV_SIZE - p);
        return 0;
}

int grubenv_get_boot_counter(const GrubEnv *env, int *ret, Error *e)
{
        const char *s = grubenv_get(env, GRUBENV_BOOT_COUNTER);
        int64_t v;

        assert(ret);
        if (!s)
                return -ENOENT;
        if (safe_atoi64(s, &v) < 0 || v < GRUBENV_BOOT_COUNTER_MIN || v > GRUBENV_BOOT_COUNTER_MAX)
                return error_setf(e, -EINVAL, "boot_counter is \"%.32s\", expected an integer in [%d, %d]",
                                  s, GRUBENV_BOOT_COUNTER_MIN, GRUBENV_BOOT_COUNTER_MAX);
        *ret = (int)v;
        return 0;
}

int grubenv_set_boot_counter(GrubEnv *env, int value, Error *e)
{
        char s[16];

        assert(value >= GRUBENV_BOOT_COUNTER_MIN && value <= GRUBENV_BOOT_COUNTER_MAX);
        snprintf(s, sizeof s, "%d", value);
        return grubenv_set(env, GRUBENV_BOOT_COUNTER, s, e);
}

int grubenv_get_boot_success(const GrubEnv *env, bool *ret, Error *e)
{
        const char *s = grubenv_get(env, GRUBENV_BOOT_SUCCESS);

        assert(ret);
        if (!s)
                return -ENOENT;
        if (!streq(s, "0") && !streq(s, "1"))
                return error_setf(e, -EINVAL, "boot_success is \"%.32s\", expected 0 or 1", s);
        *ret = streq(s, "1");
        return 0;
}

int grubenv_set_boot_success(GrubEnv *env, bool value, Error *e)
{
        return grubenv_set(env, GRUBENV_BOOT_SUCCESS, value ? "1" : "0", e);
}

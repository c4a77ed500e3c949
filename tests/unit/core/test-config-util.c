/* test-config-util.c — configuration key tables: every type and its errors, integer bounds and field
 * sizes, nested tables, unknown keys, where keys were set (drop-in merges), custom keys, deferred checks
 * and the "FILE:LINE: KEY: reason" of every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "config-util.h"

typedef enum Colour {
        RED,
        GREEN,
        BLUE,
} Colour;

typedef struct Target {
        char *name, *note, *address;
        bool on;
        uint8_t small;
        int16_t offset;
        uint16_t port;
        unsigned count;
        int64_t any;
        uint64_t big;
        double ratio;
        char **tags;
        size_t n_tags;
        char **args;
        size_t n_args;
        Colour colour;
        Colour mode;
        char *custom_key; /* what the custom key saw */
        int64_t custom_value;
} Target;

static const char *const colour_names[] = { [RED] = "red", [GREEN] = "green", [BLUE] = "blue", NULL };
static const char *const mode_names[] = { [RED] = "fast", [GREEN] = "slow", NULL };

static int parse_custom(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        Target *t = target;
        if (toml_type(v) != TOML_INTEGER || toml_integer(v) % 2 != 0)
                return config_bad(x, v, key, "must be an even integer");
        free(t->custom_key);
        t->custom_key = strdup(key);
        t->custom_value = toml_integer(v);
        return t->custom_key ? 0 : -ENOMEM;
}

static const char *check_no_x(const void *field)
{
        return strchr(*(char *const *)field, 'x') ? "must not contain x" : NULL;
}

static const ConfigKey keys[] = {
        CONFIG_KEY("name", CONFIG_STRING, Target, name, .check = check_no_x),
        CONFIG_KEY("note", CONFIG_STRING_OR_EMPTY, Target, note),
        CONFIG_KEY("net.address", CONFIG_ADDRESS, Target, address),
        CONFIG_KEY("net.port", CONFIG_INT, Target, port, .min = 0, .max = 65535),
        CONFIG_KEY("on", CONFIG_BOOL, Target, on),
        CONFIG_KEY("ints.small", CONFIG_INT, Target, small, .min = 1, .max = 255),
        CONFIG_KEY("ints.offset", CONFIG_INT, Target, offset, .min = -300, .max = 300),
        CONFIG_KEY("ints.count", CONFIG_INT, Target, count, .min = 0, .max = UINT32_MAX),
        CONFIG_KEY("ints.any", CONFIG_INT, Target, any, .min = INT64_MIN, .max = INT64_MAX),
        CONFIG_KEY("ints.big", CONFIG_INT, Target, big, .min = 1, .max = INT64_C(1) << 40),
        CONFIG_KEY("ratio", CONFIG_FLOAT, Target, ratio),
        CONFIG_KEY("tags", CONFIG_STRINGS, Target, tags, .max = 3, CONFIG_COUNT(Target, n_tags)),
        CONFIG_KEY("args", CONFIG_STRINGS_OR_EMPTY, Target, args, .max = 2, CONFIG_COUNT(Target, n_args)),
        CONFIG_KEY("colour", CONFIG_ENUM, Target, colour, .names = colour_names),
        CONFIG_KEY("mode", CONFIG_ENUM, Target, mode, .names = mode_names),
        CONFIG_KEY("a.b.c.even", CONFIG_CUSTOM, Target, custom_value, .parse = parse_custom),
        CONFIG_KEY("strict", CONFIG_STRING_OR_EMPTY, Target, note, .reason = "must be text"),
};

/* Parses text as file "t.toml" into *t (section sect) with sources; returns the error or 0. */
static int parse_into(const char *text, const char *sect, Target *t, ConfigSource *sources, char ***warnings,
                      Error *e)
{
        _cleanup_toml_ TomlValue *root = NULL;
        ConfigCtx x = { .file = "t.toml", .e = e };
        int r;

        r = config_parse_toml(text, strlen(text), "t.toml", &root, e);
        if (r < 0)
                return r;
        r = config_parse_table(&x, root, sect, keys, ELEMENTSOF(keys), t, sources);
        config_take_warnings(&x, r >= 0 ? warnings : NULL);
        return r;
}

static void target_free(Target *t)
{
        config_table_free(keys, ELEMENTSOF(keys), t);
        free(t->custom_key);
}

static void expect_error(const char *text, const char *msg)
{
        Target t = { 0 };
        Error e = { { 0 } };
        assert_int_equal(parse_into(text, NULL, &t, NULL, NULL, &e), -EINVAL);
        if (!streq(e.message, msg))
                fail_msg("got '%s'\nwant '%s'", e.message, msg);
        target_free(&t);
}

static void test_every_type(void **state)
{
        Target t = { .colour = BLUE };
        Error e = { { 0 } };
        char **w = NULL;

        (void)state;
        assert_int_equal(parse_into("name = \"n\"\nnote = \"\"\non = true\nratio = 2\n"
                                    "tags = [\"a\", \"b\"]\nargs = [\"\", \"x\"]\ncolour = \"green\"\n"
                                    "mode = \"slow\"\n"
                                    "[net]\naddress = \"::1\"\nport = 65535\n"
                                    "[ints]\nsmall = 255\noffset = -300\ncount = 4294967295\n"
                                    "any = -9223372036854775808\nbig = 1099511627776\n"
                                    "[a.b.c]\neven = 4\n",
                                    NULL, &t, NULL, &w, &e),
                         0);
        assert_null(w);
        assert_string_equal(t.name, "n");
        assert_string_equal(t.note, "");
        assert_true(t.on);
        assert_true(t.ratio == 2.0);
        assert_int_equal(t.n_tags, 2);
        assert_string_equal(t.tags[1], "b");
        assert_null(t.tags[2]);
        assert_int_equal(t.n_args, 2);
        assert_string_equal(t.args[0], "");
        assert_int_equal(t.colour, GREEN);
        assert_int_equal(t.mode, GREEN);
        assert_string_equal(t.address, "::1");
        assert_int_equal(t.port, 65535);
        assert_int_equal(t.small, 255);
        assert_int_equal(t.offset, -300);
        assert_true(t.count == UINT32_MAX);
        assert_true(t.any == INT64_MIN);
        assert_true(t.big == UINT64_C(1) << 40);
        assert_string_equal(t.custom_key, "a.b.c.even");
        assert_int_equal(t.custom_value, 4);

        /* A later value replaces the earlier one; what is not set stays. */
        assert_int_equal(parse_into("name = \"m\"\ntags = [\"c\"]\nratio = 0.5\n", NULL, &t, NULL, NULL, &e),
                         0);
        assert_string_equal(t.name, "m");
        assert_int_equal(t.n_tags, 1);
        assert_string_equal(t.tags[0], "c");
        assert_true(t.ratio == 0.5);
        assert_string_equal(t.note, "");
        assert_int_equal(t.port, 65535);

        target_free(&t);
        assert_null(t.name);
        assert_null(t.tags);
        assert_int_equal(t.n_tags, 0);
        assert_null(t.address);
}

static void test_type_errors(void **state)
{
        (void)state;
        expect_error("name = 1\n", "t.toml:1: name: must be a string");
        expect_error("\nname = \"\"\n", "t.toml:2: name: must not be empty");
        expect_error("name = \"a\\u0000b\"\n", "t.toml:1: name: must not contain NUL characters");
        expect_error("note = [\"x\"]\n", "t.toml:1: note: must be a string");
        expect_error("on = \"yes\"\n", "t.toml:1: on: must be true or false");
        expect_error("ratio = \"0.5\"\n", "t.toml:1: ratio: must be a number");
        expect_error("[net]\naddress = \"localhost\"\n",
                     "t.toml:2: net.address: must be a numeric IPv4 or IPv6 address");
        expect_error("[net]\naddress = \"\"\n", "t.toml:2: net.address: must not be empty");
        expect_error("[net]\nport = \"80\"\n", "t.toml:2: net.port: must be an integer between 0 and 65535");
        expect_error("[ints]\nany = 1.5\n", "t.toml:2: ints.any: must be an integer");
        expect_error("colour = \"purple\"\n", "t.toml:1: colour: must be one of red, green, blue");
        expect_error("mode = \"Fast\"\n", "t.toml:1: mode: must be \"fast\" or \"slow\"");
        expect_error("colour = 1\n", "t.toml:1: colour: must be a string");
        expect_error("strict = 1\n", "t.toml:1: strict: must be text");
        expect_error("name = \"box\"\n", "t.toml:1: name: must not contain x");
        expect_error("x = \n", "t.toml:1:5: expected a value, found end of line");
}

static void test_int_bounds(void **state)
{
        (void)state;
        expect_error("[net]\nport = 65536\n", "t.toml:2: net.port: must be an integer between 0 and 65535");
        expect_error("[net]\nport = -1\n", "t.toml:2: net.port: must be an integer between 0 and 65535");
        expect_error("[ints]\nsmall = 0\n", "t.toml:2: ints.small: must be an integer between 1 and 255");
        expect_error("[ints]\noffset = -301\n",
                     "t.toml:2: ints.offset: must be an integer between -300 and 300");
        expect_error("[ints]\ncount = 4294967296\n",
                     "t.toml:2: ints.count: must be an integer between 0 and 4294967295");
        expect_error("[ints]\nbig = 1099511627777\n",
                     "t.toml:2: ints.big: must be an integer between 1 and 1099511627776");
}

static void test_strings(void **state)
{
        (void)state;
        expect_error("tags = \"a\"\n", "t.toml:1: tags: must be an array of strings");
        expect_error("tags = [\"a\", \"b\", \"c\", \"d\"]\n", "t.toml:1: tags: must be an array of strings");
        expect_error("tags = [\n\"a\",\n\"\"]\n", "t.toml:3: tags: must be an array of non-empty strings");
        expect_error("tags = [\"a\", 1]\n", "t.toml:1: tags: must be an array of non-empty strings");
        expect_error("args = [\"a\", \"b\", \"c\"]\n",
                     "t.toml:1: args: must be an array of at most 2 strings");
        expect_error("args = [\n1]\n", "t.toml:2: args: must be an array of at most 2 strings");
        expect_error("args = [\"a\\u0000\"]\n", "t.toml:1: args: must be an array of at most 2 strings");
}

static void test_unknown_keys(void **state)
{
        Target t = { 0 };
        Error e = { { 0 } };
        char **w = NULL;

        (void)state;
        assert_int_equal(
                parse_into("colour = \"red\"\nspeed = 1\n\"net.port\" = 2\n\"a\\u0000b\" = 3\n"
                           "[net]\nport = 1\nmtu = 1500\n[extra.table]\nx = 1\n[a.b]\nd = 1\n"
                           "[ints]\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = 1\n",
                           "", &t, NULL, &w, &e),
                0);
        assert_int_equal(t.port, 1);
        assert_int_equal(strv_length(w), 7);
        assert_string_equal(w[0], "t.toml:2: unknown key 'speed' ignored");
        /* a quoted key with a dot is not the nested key */
        assert_string_equal(w[1], "t.toml:3: unknown key 'net.port' ignored");
        assert_string_equal(w[2], "t.toml:4: unknown key '(unprintable)' ignored");
        assert_string_equal(w[3], "t.toml:7: unknown key 'net.mtu' ignored");
        assert_string_equal(w[4], "t.toml:8: unknown key 'extra' ignored");
        assert_string_equal(w[5], "t.toml:11: unknown key 'a.b.d' ignored");
        assert_string_equal(w[6], "t.toml:13: unknown key '(unprintable)' ignored");
        strv_free(w);
        target_free(&t);

        /* A table some keys live in must be a table. */
        expect_error("net = 1\n", "t.toml:1: net: must be a table");
        expect_error("[a]\nb = [1]\n", "t.toml:2: a.b: must be a table");
}

static void test_section(void **state)
{
        Target t = { 0 };
        Error e = { { 0 } };
        char **w = NULL;
        ConfigCtx x = { .file = "s.toml", .e = &e };
        _cleanup_toml_ TomlValue *root = NULL;

        (void)state;
        /* Names in messages start with the section; keys are relative to the table read. */
        assert_int_equal(parse_into("name = \"a\"\nwhat = 1\n", "server.main", &t, NULL, &w, &e), 0);
        assert_string_equal(w[0], "t.toml:2: unknown key 'server.main.what' ignored");
        strv_free(w);
        assert_int_equal(parse_into("[net]\nport = 1.0\n", "srv", &t, NULL, NULL, &e), -EINVAL);
        assert_string_equal(e.message, "t.toml:2: srv.net.port: must be an integer between 0 and 65535");
        target_free(&t);

        assert_int_equal(config_parse_toml("v = 1\n", 6, "s.toml", &root, &e), 0);
        assert_int_equal(
                config_parse_table(&x, toml_table_get(root, "v"), "v", keys, ELEMENTSOF(keys), &t, NULL),
                -EINVAL);
        assert_string_equal(e.message, "s.toml:1: v: must be a table");
}

/* Two fragments: the later one overrides only the keys it sets; sources say where each value came from. */
static void test_sources(void **state)
{
        ConfigSource sources[ELEMENTSOF(keys)] = {};
        Target t = { 0 };
        Error e = { { 0 } };
        ConfigCtx x = { .e = &e };
        const char *a = "name = \"a\"\n[net]\nport = 1\n", *b = "\n\n[net]\nport = 2\n";

        (void)state;
        for (size_t i = 0; i < 2; i++) {
                _cleanup_toml_ TomlValue *root = NULL;
                x.file = i == 0 ? "10-a.toml" : "20-b.toml";
                assert_int_equal(
                        config_parse_toml(i == 0 ? a : b, strlen(i == 0 ? a : b), x.file, &root, &e), 0);
                assert_int_equal(config_parse_table(&x, root, NULL, keys, ELEMENTSOF(keys), &t, sources), 0);
        }
        assert_string_equal(t.name, "a");
        assert_int_equal(t.port, 2);
        const ConfigSource *name = config_find_source(keys, ELEMENTSOF(keys), sources, "name");
        const ConfigSource *port = config_find_source(keys, ELEMENTSOF(keys), sources, "net.port");
        assert_true(name->set);
        assert_string_equal(name->file, "10-a.toml");
        assert_int_equal(name->line, 1);
        assert_true(port->set);
        assert_string_equal(port->file, "20-b.toml");
        assert_int_equal(port->line, 4);
        assert_false(config_find_source(keys, ELEMENTSOF(keys), sources, "on")->set);
        assert_false(config_find_source(keys, ELEMENTSOF(keys), sources, "net.address")->set);
        config_take_warnings(&x, NULL);
        target_free(&t);
}

/* With deferred checks, a bad value fails only if no later value replaces it, at the place it was set. */
static void test_deferred_checks(void **state)
{
        ConfigSource sources[ELEMENTSOF(keys)] = {};
        Target t = { .mode = (Colour)-1 }; /* never set, so never checked */
        Error e = { { 0 } };
        ConfigCtx x = { .e = &e, .defer_checks = true };
        const char *frags[] = { "name = \"xx\"\ncolour = \"pink\"\n", "colour = \"blue\"\n",
                                "\nname = \"box\"\n" };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(frags); i++) {
                _cleanup_toml_ TomlValue *root = NULL;
                x.file = i == 0 ? "1.toml" : i == 1 ? "2.toml" : "3.toml";
                assert_int_equal(config_parse_toml(frags[i], strlen(frags[i]), x.file, &root, &e), 0);
                assert_int_equal(config_parse_table(&x, root, NULL, keys, ELEMENTSOF(keys), &t, sources), 0);
                if (i == 0) {
                        /* a name no value has: -1 until replaced */
                        assert_int_equal((int)t.colour, -1);
                        assert_int_equal(config_check_table(&x, keys, ELEMENTSOF(keys), &t, sources),
                                         -EINVAL);
                        assert_string_equal(e.message, "1.toml:1: name: must not contain x");
                }
        }
        assert_int_equal(t.colour, BLUE);
        assert_int_equal(config_check_table(&x, keys, ELEMENTSOF(keys), &t, sources), -EINVAL);
        assert_string_equal(e.message, "3.toml:2: name: must not contain x");
        free(t.name);
        t.name = strdup("ok");
        assert_int_equal(config_check_table(&x, keys, ELEMENTSOF(keys), &t, sources), 0);
        /* Types are still checked at once. */
        {
                _cleanup_toml_ TomlValue *root = NULL;
                assert_int_equal(config_parse_toml("colour = 3\n", 11, "4.toml", &root, &e), 0);
                x.file = "4.toml";
                assert_int_equal(config_parse_table(&x, root, NULL, keys, ELEMENTSOF(keys), &t, sources),
                                 -EINVAL);
                assert_string_equal(e.message, "4.toml:1: colour: must be a string");
        }
        target_free(&t);
}

static void test_custom(void **state)
{
        Target t = { 0 };
        Error e = { { 0 } };

        (void)state;
        assert_int_equal(parse_into("[a.b.c]\neven = 8\n", "top", &t, NULL, NULL, &e), 0);
        assert_string_equal(t.custom_key, "top.a.b.c.even");
        assert_int_equal(t.custom_value, 8);
        target_free(&t);
        expect_error("[a.b.c]\n\neven = 3\n", "t.toml:3: a.b.c.even: must be an even integer");
}

static void test_warnings(void **state)
{
        ConfigCtx x = { .file = "w.toml" };
        char **w = (char **)1;

        (void)state;
        config_take_warnings(&x, &w);
        assert_null(w);
        assert_int_equal(config_warnf(&x, "%s:%d: odd", "w.toml", 3), 0);
        config_take_warnings(&x, &w);
        assert_string_equal(w[0], "w.toml:3: odd");
        assert_null(w[1]);
        assert_null(x.warnings);
        strv_free(w);
}

/* The endpoints check upkeep-lock's and upkeep-graph's etcd keys share. */
static void test_check_http_urls(void **state)
{
        char *good[] = { "http://127.0.0.1:2379", "https://etcd.example:2379", NULL };
        char *bad[] = { "http://a", "etcd.example:2379", NULL };
        char **none = NULL;

        assert_null(config_check_http_urls(&(char **){ good }));
        assert_null(config_check_http_urls(&none));
        assert_string_equal(config_check_http_urls(&(char **){ bad }),
                            "endpoints must be http:// or https:// URLs");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_type),      cmocka_unit_test(test_type_errors),
                cmocka_unit_test(test_int_bounds),      cmocka_unit_test(test_strings),
                cmocka_unit_test(test_unknown_keys),    cmocka_unit_test(test_section),
                cmocka_unit_test(test_sources),         cmocka_unit_test(test_deferred_checks),
                cmocka_unit_test(test_custom),          cmocka_unit_test(test_warnings),
                cmocka_unit_test(test_check_http_urls),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

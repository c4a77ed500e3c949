/* test-greenboot-conf.c — unit tests for greenboot.conf read as data (src/agent/greenboot-conf.c): the
 * file greenboot ships, every quoting form, arrays over lines, what is skipped and never run, limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "greenboot-conf.h"

static GreenbootConf parse_ok(const char *text)
{
        GreenbootConf c;
        Error e = {};
        int r = greenboot_conf_parse(text, strlen(text), &c, &e);

        if (r < 0)
                fail_msg("parse failed: %s", e.message);
        return c;
}

static void assert_disabled(const GreenbootConf *c, const char *const *want, size_t n)
{
        assert_int_equal(c->n_disabled_healthchecks, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(c->disabled_healthchecks[i], want[i]);
        assert_null(c->disabled_healthchecks[n]);
}

static void test_defaults(void **state)
{
        GreenbootConf c = parse_ok("");

        assert_int_equal(c.max_boot_attempts, 3);
        assert_false(c.watchdog_check_enabled);
        assert_int_equal(c.watchdog_grace_hours, 24);
        assert_disabled(&c, NULL, 0);
        assert_int_equal(c.n_warnings, 0);
        assert_non_null(c.warnings);
        greenboot_conf_done(&c);
}

/* The file as greenboot ships it, with a user's edits. */
static void test_shipped_file(void **state)
{
        GreenbootConf c =
                parse_ok("# greenboot configuration file\n"
                         "\n"
                         "## Generic\n"
                         "GREENBOOT_MAX_BOOT_ATTEMPTS=5\n"
                         "\n"
                         "### Watchdog\n"
                         "GREENBOOT_WATCHDOG_CHECK_ENABLED=true\n"
                         "GREENBOOT_WATCHDOG_GRACE_PERIOD=48\n"
                         "DISABLED_HEALTHCHECKS=(\"01_repository_dns_check.sh\" 02_watchdog.sh)\n");

        assert_int_equal(c.max_boot_attempts, 5);
        assert_true(c.watchdog_check_enabled);
        assert_int_equal(c.watchdog_grace_hours, 48);
        assert_disabled(&c, (const char *const[]){ "01_repository_dns_check.sh", "02_watchdog.sh" }, 2);
        assert_true(greenboot_conf_disabled(&c, "02_watchdog.sh"));
        assert_false(greenboot_conf_disabled(&c, "02_watchdog"));
        assert_int_equal(c.n_warnings, 0);
        greenboot_conf_done(&c);
}

static void test_quoting(void **state)
{
        GreenbootConf c = parse_ok("export GREENBOOT_MAX_BOOT_ATTEMPTS='7'   # seven\n"
                                   "DISABLED_HEALTHCHECKS=(\n"
                                   "    'a b.sh'   # one with a blank\n"
                                   "    \"c\\\"d.sh\" e\\ f.sh\n"
                                   "    g\"h\"'i'.sh\n"
                                   ")\n"
                                   "GREENBOOT_WATCHDOG_GRACE_PERIOD=\"1\\\n2\"\n");

        assert_int_equal(c.max_boot_attempts, 7);
        assert_disabled(&c, (const char *const[]){ "a b.sh", "c\"d.sh", "e f.sh", "ghi.sh" }, 4);
        assert_int_equal(c.watchdog_grace_hours, 12); /* "\<newline>" continues the line in double quotes */
        assert_int_equal(c.n_warnings, 0);
        greenboot_conf_done(&c);
}

/* Later assignments win; a scalar is a one-element array; () and "" are none. */
static void test_reassignment(void **state)
{
        GreenbootConf c = parse_ok("DISABLED_HEALTHCHECKS=(a b)\nDISABLED_HEALTHCHECKS=single.sh\n");

        assert_disabled(&c, (const char *const[]){ "single.sh" }, 1);
        greenboot_conf_done(&c);
        c = parse_ok("DISABLED_HEALTHCHECKS=(a b)\nDISABLED_HEALTHCHECKS=()\n");
        assert_disabled(&c, NULL, 0);
        greenboot_conf_done(&c);
        c = parse_ok("DISABLED_HEALTHCHECKS=(a)\nDISABLED_HEALTHCHECKS=\n");
        assert_disabled(&c, NULL, 0);
        greenboot_conf_done(&c);
        c = parse_ok("GREENBOOT_MAX_BOOT_ATTEMPTS=(9 8)\n"); /* $NAME of an array is its first element */
        assert_int_equal(c.max_boot_attempts, 9);
        greenboot_conf_done(&c);
}

/* Nothing that bash would run or expand is taken: the line is skipped and a warning says which. */
static void test_never_run(void **state)
{
        GreenbootConf c = parse_ok("GREENBOOT_MAX_BOOT_ATTEMPTS=$(reboot)\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=`reboot`\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=$N\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=\"${N}\"\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=4; reboot\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=4 reboot\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=4&&reboot\n"
                                   "DISABLED_HEALTHCHECKS=(a $(reboot))\n"
                                   "source /etc/other.conf\n"
                                   "reboot\n"
                                   "GREENBOOT_WATCHDOG_GRACE_PERIOD=6 # taken\n");

        assert_int_equal(c.max_boot_attempts, 3);
        assert_disabled(&c, NULL, 0);
        assert_int_equal(c.watchdog_grace_hours, 6);
        assert_int_equal(c.n_warnings, 10);
        assert_string_equal(
                c.warnings[0],
                "greenboot.conf:1: expansions, commands and operators are never run: line skipped");
        assert_string_equal(
                c.warnings[8],
                "greenboot.conf:9: not a plain assignment: skipped (the file is read as data, never run)");
        assert_string_equal(
                c.warnings[9],
                "greenboot.conf:10: not a plain assignment: skipped (the file is read as data, never run)");
        greenboot_conf_done(&c);
}

static void test_bad_values(void **state)
{
        GreenbootConf c = parse_ok("GREENBOOT_MAX_BOOT_ATTEMPTS=three\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=-1\n"
                                   "GREENBOOT_MAX_BOOT_ATTEMPTS=1001\n"
                                   "GREENBOOT_WATCHDOG_CHECK_ENABLED=yes\n"
                                   "GREENBOOT_WATCHDOG_GRACE_PERIOD=\n");

        assert_int_equal(c.max_boot_attempts, 3);
        assert_false(c.watchdog_check_enabled);
        assert_int_equal(c.watchdog_grace_hours, 24);
        assert_int_equal(c.n_warnings, 5);
        assert_string_equal(c.warnings[0], "greenboot.conf:1: GREENBOOT_MAX_BOOT_ATTEMPTS: 'three' is not a "
                                           "number from 0 to 1000; the default is kept");
        assert_string_equal(c.warnings[3], "greenboot.conf:4: GREENBOOT_WATCHDOG_CHECK_ENABLED is neither "
                                           "true nor false: off");
        greenboot_conf_done(&c);
        c = parse_ok("GREENBOOT_MAX_BOOT_ATTEMPTS=0\n");
        assert_int_equal(c.max_boot_attempts, 0);
        greenboot_conf_done(&c);
}

static void expect_error(const char *text, size_t len, int err, const char *msg)
{
        GreenbootConf c = { .max_boot_attempts = 99 };
        Error e = {};

        assert_int_equal(greenboot_conf_parse(text, len, &c, &e), err);
        assert_string_equal(e.message, msg);
        assert_int_equal(c.max_boot_attempts, 99); /* *ret untouched */
}

static void test_errors(void **state)
{
        char *big = malloc(GREENBOOT_CONF_MAX_BYTES + 1), *word = malloc(GREENBOOT_CONF_MAX_VALUE + 8);
        char many[4096] = "DISABLED_HEALTHCHECKS=(";

        expect_error("A='x\n\nB=1\n", 10, -EINVAL, "greenboot.conf:1: unterminated single quote");
        expect_error("\n\nA=\"x\n", 6, -EINVAL, "greenboot.conf:3: unterminated double quote");
        expect_error("DISABLED_HEALTHCHECKS=(a\nb\n", 27, -EINVAL,
                     "greenboot.conf:1: array without its closing ')'");
        expect_error("A=1\0B=2\n", 8, -EINVAL, "greenboot.conf: contains a NUL byte");
        assert_non_null(big);
        memset(big, '#', GREENBOOT_CONF_MAX_BYTES + 1);
        expect_error(big, GREENBOOT_CONF_MAX_BYTES + 1, -EFBIG, "greenboot.conf: larger than 65536 bytes");
        assert_non_null(word);
        memcpy(word, "A=", 2);
        memset(word + 2, 'x', GREENBOOT_CONF_MAX_VALUE + 1);
        expect_error(word, GREENBOOT_CONF_MAX_VALUE + 3, -EINVAL,
                     "greenboot.conf:1: value longer than 4096 bytes");
        for (int i = 0; i <= GREENBOOT_CONF_MAX_DISABLED; i++)
                strcat(many, "a ");
        strcat(many, ")");
        expect_error(many, strlen(many), -EINVAL, "greenboot.conf:1: array of more than 256 words");
        free(big);
        free(word);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),  cmocka_unit_test(test_shipped_file),
                cmocka_unit_test(test_quoting),   cmocka_unit_test(test_reassignment),
                cmocka_unit_test(test_never_run), cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

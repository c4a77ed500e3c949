/* test-health-record.c — the boot assessment's record as JSON (src/agent/health-record.c): encoding (the
 * exact document, refusal of an invalid record, the buffer's cap), decoding back (round trip, unknown
 * members ignored) and every rejection with its message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "health-record.h"
#include "macros.h"

static HealthRecord sample(void)
{
        HealthRecord r = { .phase = HEALTH_PHASE_FINALIZED, .attempts_left = 2 };
        strcpy(r.to_version, "41.2");
        strcpy(r.to_checksum, "c2c2");
        strcpy(r.from_version, "41.1");
        strcpy(r.from_checksum, "c1c1");
        return r;
}

static void test_encode(void **state)
{
        HealthRecord r = sample();
        Buf b = BUF_INIT(4096);

        assert_int_equal(health_record_encode(&r, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_string_equal(
                b.data,
                "{\"attempts_left\": 2, \"from\": {\"checksum\": \"c1c1\", \"version\": \"41.1\"}, "
                "\"phase\": \"finalized\", \"to\": {\"checksum\": \"c2c2\", \"version\": \"41.2\"}}\n");
        buf_free(&b);

        r.phase = HEALTH_PHASE_ROLLED_BACK;
        r.attempts_left = 0;
        b = BUF_INIT(4096);
        assert_int_equal(health_record_encode(&r, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "\"phase\": \"rolled_back\""));
        assert_non_null(strstr(b.data, "\"attempts_left\": 0"));
        buf_free(&b);

        /* an invalid record is refused, a full buffer too */
        r = sample();
        strcpy(r.to_checksum, r.from_checksum);
        b = BUF_INIT(4096);
        assert_int_equal(health_record_encode(&r, &b), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_free(&b);
        r = sample();
        b = BUF_INIT(16);
        assert_int_equal(health_record_encode(&r, &b), -ENOBUFS);
        buf_free(&b);
}

static void test_round_trip(void **state)
{
        HealthRecord r = sample(), back;
        Buf b = BUF_INIT(4096);
        Error e = {};

        r.phase = HEALTH_PHASE_ROLLED_BACK;
        r.to_version[0] = 0; /* a commit without a version */
        assert_int_equal(health_record_encode(&r, &b), 0);
        memset(&back, 0x55, sizeof back);
        assert_int_equal(health_record_decode(b.data, b.len, &back, &e), 0);
        assert_int_equal(back.phase, HEALTH_PHASE_ROLLED_BACK);
        assert_int_equal(back.attempts_left, 2);
        assert_string_equal(back.to_version, "");
        assert_string_equal(back.to_checksum, "c2c2");
        assert_string_equal(back.from_version, "41.1");
        assert_string_equal(back.from_checksum, "c1c1");
        buf_free(&b);

        /* members of later versions are ignored */
        const char *doc = "{\"phase\":\"finalized\",\"attempts_left\":5,\"later\":[1,2],"
                          "\"to\":{\"version\":\"b\",\"checksum\":\"bb\",\"x\":1},"
                          "\"from\":{\"version\":\"a\",\"checksum\":\"aa\"}}";
        assert_int_equal(health_record_decode(doc, strlen(doc), &back, &e), 0);
        assert_int_equal(back.attempts_left, 5);
        assert_string_equal(back.to_checksum, "bb");
}

static void expect_bad(const char *doc, int err, const char *msg)
{
        HealthRecord r = sample(), before = r;
        Error e = {};

        assert_int_equal(health_record_decode(doc, strlen(doc), &r, &e), err);
        if (!streq(e.message, msg))
                fail_msg("got '%s'\nwant '%s'", e.message, msg);
        assert_memory_equal(&r, &before, sizeof r); /* untouched on failure */
}

static void test_rejections(void **state)
{
        char big[HEALTH_RECORD_FILE_MAX + 2];

        expect_bad("", -EINVAL, "health record: not JSON: '[' or '{' expected near end of file (line 1)");
        expect_bad("[]", -EINVAL, "health record: must be a JSON object");
        expect_bad("{}", -EINVAL, "health record: phase: must be a string");
        expect_bad("{\"phase\":\"done\"}", -EINVAL,
                   "health record: phase: must be \"finalized\" or \"rolled_back\"");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":-1}", -EINVAL,
                   "health record: attempts_left: must be an integer between 0 and 100");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":101}", -EINVAL,
                   "health record: attempts_left: must be an integer between 0 and 100");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":\"1\"}", -EINVAL,
                   "health record: attempts_left: must be an integer between 0 and 100");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":1}", -EINVAL,
                   "health record: to: must be an object");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":1,\"to\":{\"version\":1}}", -EINVAL,
                   "health record: to.version: must be a string");
        snprintf(big, sizeof big,
                 "{\"phase\":\"finalized\",\"attempts_left\":1,\"to\":{\"version\":\"a\",\"checksum\":\"%"
                 "0129d\"}}",
                 0);
        expect_bad(big, -EINVAL, "health record: to.checksum: longer than 128 bytes or not text");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":1,\"to\":{\"version\":\"a\",\"checksum\":"
                   "\"aa\"},"
                   "\"from\":{\"version\":\"a\"}}",
                   -EINVAL, "health record: from.checksum: must be a string");
        expect_bad("{\"phase\":\"finalized\",\"attempts_left\":1,\"to\":{\"version\":\"a\",\"checksum\":"
                   "\"aa\"},"
                   "\"from\":{\"version\":\"b\",\"checksum\":\"aa\"}}",
                   -EINVAL, "health record: checksums must be different, non-empty and printable");
        expect_bad(
                "{\"phase\":\"finalized\",\"attempts_left\":1,\"to\":{\"version\":\"a\",\"checksum\":\"\"},"
                "\"from\":{\"version\":\"b\",\"checksum\":\"aa\"}}",
                -EINVAL, "health record: checksums must be different, non-empty and printable");
        expect_bad("{\"phase\":\"finalized\",\"phase\":\"finalized\"}", -EINVAL,
                   "health record: not JSON: duplicate object key near '\"phase\"' (line 1)");
        memset(big, ' ', sizeof big - 1);
        big[sizeof big - 1] = 0;
        expect_bad(big, -EFBIG, "health record: larger than 4096 bytes");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_rejections),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-basic.c — unit tests for src/basic helpers, the JSON helpers and the metrics writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "buf.h"
#include "error.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "metrics.h"
#include "siphash13.h"
#include "strutil.h"

static void test_buf_cap(void **state)
{
        Buf b = BUF_INIT(8);
        assert_int_equal(buf_puts(&b, "12345"), 0);
        assert_int_equal(buf_puts(&b, "678"), 0);
        assert_int_equal(buf_putc(&b, 'x'), -ENOBUFS);
        assert_int_equal(b.len, 8);
        assert_string_equal(b.data, "12345678");
        assert_int_equal(buf_printf(&b, "%d", 1), -ENOBUFS);
        assert_string_equal(b.data, "12345678");
        buf_free(&b);
}

static void test_buf_json_string(void **state)
{
        Buf b = BUF_INIT(1024);
        assert_int_equal(buf_put_json_string(&b, "a\"b\\c\n\x01", 7), 0);
        assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
        buf_free(&b);

        /* A failed append leaves nothing behind. */
        b = BUF_INIT(4);
        assert_int_equal(buf_put_json_string(&b, "abcdef", 6), -ENOBUFS);
        assert_int_equal(b.len, 0);
        buf_free(&b);
}

static void test_buf_steal(void **state)
{
        Buf b = BUF_INIT(16);
        size_t n = 99;
        char *s = buf_steal(&b, &n);
        assert_non_null(s);
        assert_string_equal(s, "");
        assert_int_equal(n, 0);
        free(s);
}

static void test_siphash_vectors(void **state)
{
        /* Wariness vectors from the spec: SipHash-1-3 keys (0,0) over the uuid bytes then 0xFF. */
        uint8_t in[] = { 0xff };
        assert_true(siphash13(0, 0, in, 1) == 3476900567878811119ULL);

        /* Reference vector of the SipHash-1-3 reference implementation (key 00..0f, empty input). */
        uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
        assert_true(siphash13(k0, k1, "", 0) == 0xabac0158050fc4dcULL);
}

static void test_safe_parsers(void **state)
{
        uint64_t u;
        int64_t i;
        uint16_t s;
        double d;

        assert_int_equal(safe_atou64("42", &u), 0);
        assert_true(u == 42);
        assert_int_equal(safe_atou64("-1", &u), -EINVAL);
        assert_int_equal(safe_atou64(" 1", &u), -EINVAL);
        assert_int_equal(safe_atou64("1x", &u), -EINVAL);
        assert_int_equal(safe_atou64("", &u), -EINVAL);
        assert_int_equal(safe_atou64("99999999999999999999", &u), -ERANGE);
        assert_int_equal(safe_atoi64("-5", &i), 0);
        assert_true(i == -5);
        assert_int_equal(safe_atoi64("-", &i), -EINVAL);
        assert_int_equal(safe_atou16("65536", &s), -ERANGE);
        assert_int_equal(safe_atou16("8080", &s), 0);
        assert_int_equal(s, 8080);
        assert_int_equal(safe_atod("0.5", &d), 0);
        assert_true(d == 0.5);
        assert_int_equal(safe_atod("1e-3", &d), 0);
        assert_int_equal(safe_atod("nan", &d), -EINVAL);
        assert_int_equal(safe_atod("inf", &d), -EINVAL);
        assert_int_equal(safe_atod("1e999", &d), -ERANGE);
        assert_int_equal(safe_atod("0x10", &d), -EINVAL);
        assert_int_equal(safe_atod("", &d), -EINVAL);
        assert_int_equal(safe_atod("1.0 ", &d), -EINVAL);
}

static void check_fmt(double v, const char *expected)
{
        char out[512];
        assert_int_equal(format_double_shortest(v, out, sizeof(out)), 0);
        assert_string_equal(out, expected);
}

static void test_format_double(void **state)
{
        check_fmt(0.0, "0");
        check_fmt(1.0, "1");
        check_fmt(0.5, "0.5");
        check_fmt(0.1, "0.1");
        check_fmt(0.25, "0.25");
        check_fmt(1e-7, "0.0000001");
        check_fmt(123.0, "123");
        check_fmt(1e21, "1000000000000000000000");
        check_fmt(-2.5, "-2.5");
        check_fmt(0.30000000000000004, "0.30000000000000004");
        char tiny[4];
        assert_int_equal(format_double_shortest(0.123456, tiny, sizeof(tiny)), -ENOBUFS);
        assert_int_equal(format_double_shortest(NAN, tiny, sizeof(tiny)), -EINVAL);
}

static void test_url_unescape(void **state)
{
        char *s;
        assert_int_equal(url_unescape("a%20b+c", 7, &s), 0);
        assert_string_equal(s, "a b c");
        free(s);
        assert_int_equal(url_unescape("%4", 2, &s), -EINVAL);
        assert_int_equal(url_unescape("%", 1, &s), -EINVAL);
        assert_int_equal(url_unescape("%zz", 3, &s), -EINVAL);
        assert_int_equal(url_unescape("%00", 3, &s), -EINVAL);
        assert_true(url_escapes_valid("a%20b+c", 7));
        assert_false(url_escapes_valid("%4", 2));
        assert_false(url_escapes_valid("a%", 2));
        assert_false(url_escapes_valid("%zz", 3));
        assert_false(url_escapes_valid("%00", 3));
        assert_true(url_escapes_valid("%41", 3));
        assert_true(url_escapes_valid("", 0));
        assert_int_equal(url_unescape("", 0, &s), 0);
        assert_string_equal(s, "");
        free(s);
}

static void test_blob(void **state)
{
        Blob *b = blob_new("abc", 3);
        assert_non_null(b);
        assert_int_equal(b->len, 3);
        assert_string_equal(b->data, "abc");
        blob_ref(b);
        blob_unref(b);
        assert_null(blob_unref(b));
}

static int attachments_freed;

static void attachment_free(BlobAttachment *a)
{
        attachments_freed++;
        free(a);
}

static void test_blob_attachment(void **state)
{
        Blob *b = blob_new("abc", 3);
        BlobAttachment *a1 = calloc(1, sizeof(*a1)), *a2 = calloc(1, sizeof(*a2));

        a1->free = attachment_free;
        a2->free = attachment_free;
        assert_null(blob_attachment(b));
        assert_ptr_equal(blob_attach(b, a1), a1);
        /* The first attachment stays; the second caller keeps its own. */
        assert_ptr_equal(blob_attach(b, a2), a1);
        free(a2);
        blob_ref(b);
        blob_unref(b);
        assert_int_equal(attachments_freed, 0);
        blob_unref(b);
        assert_int_equal(attachments_freed, 1);
}

static void test_error(void **state)
{
        Error e;
        assert_int_equal(error_setf(&e, -EINVAL, "field %s", "x"), -EINVAL);
        assert_int_equal(error_prefixf(&e, -EINVAL, "file %s", "f.json"), -EINVAL);
        assert_string_equal(e.message, "file f.json: field x");
        assert_int_equal(error_setf(NULL, -ENOENT, "ignored"), -ENOENT);
}

static void test_read_full_file(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path);
        char *d;
        size_t n;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello", 5), 5);
        close(fd);
        assert_int_equal(read_full_file(path, 5, &d, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(d, "hello");
        free(d);
        d = NULL;
        assert_int_equal(read_full_file(path, 4, &d, &n), -EFBIG);
        assert_null(d);
        unlink(path);
        assert_int_equal(read_full_file(path, 4, &d, &n), -ENOENT);
}

/* What stderr received since its offset off in the temporary file behind it. */
static size_t stderr_since(int fd, off_t off, char *buf, size_t size)
{
        ssize_t n = pread(fd, buf, size - 1, off);
        assert_true(n >= 0);
        buf[n] = 0;
        return (size_t)n;
}

static void test_log_hold(void **state)
{
        char path[] = "/tmp/upkeep-test-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        static char buf[32768], want[32768];
        size_t n;

        assert_true(fd >= 0 && saved >= 0);
        unlink(path);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        log_set_prefix(1);

        /* Not held: at once, with the journald prefix. */
        log_info("one %d", 1);
        stderr_since(fd, 0, buf, sizeof(buf));
        assert_string_equal(buf, "<6>one 1\n");

        /* Held, nested: nothing until the outer release, then in order; errno kept. */
        log_hold();
        log_warning("two");
        log_hold();
        log_info("three");
        log_release();
        assert_int_equal(stderr_since(fd, 9, buf, sizeof(buf)), 0);
        errno = EBUSY;
        log_release();
        assert_int_equal(errno, EBUSY);
        stderr_since(fd, 9, buf, sizeof(buf));
        assert_string_equal(buf, "<4>two\n<6>three\n");

        /* More than the buffer holds: written early, nothing lost, order kept. */
        log_hold();
        want[0] = 0;
        for (int i = 0; i < 200; i++) {
                char line[128];
                snprintf(line, sizeof(line), "<6>line %03d %s\n", i,
                         "............................................");
                strcat(want, line);
                log_info("line %03d %s", i, "............................................");
        }
        n = stderr_since(fd, 25, buf, sizeof(buf));
        assert_true(n > 0 && n < strlen(want));
        log_release();
        stderr_since(fd, 25, buf, sizeof(buf));
        assert_string_equal(buf, want);

        /* A line longer than the line buffer is cut, still one line. */
        memset(want, 'x', 4000);
        want[4000] = 0;
        log_info("%s", want);
        n = stderr_since(fd, 25 + strlen(buf), want, sizeof(want));
        assert_int_equal(n, 2047);
        assert_int_equal(want[n - 1], '\n');
        assert_null(memchr(want, '\n', n - 1));

        /* A release without a hold does nothing. */
        log_release();
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(fd);
}

static void test_json_strict(void **state)
{
        json_t *j = NULL;
        Error e = { { 0 } };
        const char *s;
        int64_t i;
        double d;

        assert_int_equal(json_parse_strict("{\"a\":1,\"a\":2}", 13, &j, &e), -EINVAL);
        assert_non_null(strstr(e.message, "line 1"));
        assert_int_equal(json_parse_strict("{\"a\":\"\xff\"}", 8, &j, &e), -EINVAL);
        assert_int_equal(json_parse_strict("{} x", 4, &j, &e), -EINVAL);
        assert_int_equal(json_parse_strict("{\"a\":99999999999999999999}", 26, &j, &e), -EINVAL);

        assert_int_equal(json_parse_strict("{\"s\":\"v\",\"i\":7,\"f\":0.5}", 23, &j, &e), 0);
        assert_int_equal(json_member_string(j, "s", true, "thing", &s, &e), 0);
        assert_string_equal(s, "v");
        assert_int_equal(json_member_string(j, "i", true, "thing", &s, &e), -EINVAL);
        assert_string_equal(e.message, "thing: field 'i' must be a string, got integer");
        assert_int_equal(json_member_string(j, "zz", true, "thing", &s, &e), -ENOENT);
        assert_string_equal(e.message, "thing: missing field 'zz'");
        assert_int_equal(json_member_int(j, "i", true, "thing", 0, 5, &i, &e), -ERANGE);
        assert_int_equal(json_member_int(j, "i", true, "thing", 0, 10, &i, &e), 0);
        assert_true(i == 7);
        assert_int_equal(json_member_int(j, "f", true, "thing", 0, 10, &i, &e), -EINVAL);
        assert_int_equal(json_member_number(j, "i", true, "thing", &d, &e), 0);
        assert_true(d == 7.0);
        json_decref(j);
}

static void test_metrics(void **state)
{
        Buf b = BUF_INIT(4096);
        Histogram h;
        const double bounds[] = { 0.1, 0.5, 1.0 };
        const char *labels[] = { "stream", "sta\"ble", NULL };

        assert_int_equal(metrics_header(&b, "x_total", "counter", "Things."), 0);
        assert_int_equal(metrics_sample_u64(&b, "x_total", labels, 3), 0);
        assert_int_equal(metrics_sample(&b, "y", NULL, 0.5), 0);
        assert_string_equal(b.data, "# HELP x_total Things.\n# TYPE x_total counter\n"
                                    "x_total{stream=\"sta\\\"ble\"} 3\ny 0.5\n");
        buf_truncate(&b, 0);
        assert_int_equal(histogram_init(&h, bounds, 3), 0);
        histogram_observe(&h, 0.05);
        histogram_observe(&h, 0.7);
        histogram_observe(&h, 7);
        assert_int_equal(histogram_write(&b, "w", NULL, &h), 0);
        assert_string_equal(b.data,
                            "w_bucket{le=\"0.10000000000000001\"} 1\nw_bucket{le=\"0.5\"} 1\n"
                            "w_bucket{le=\"1\"} 2\nw_bucket{le=\"+Inf\"} 3\nw_sum 7.750000\nw_count 3\n");
        buf_free(&b);
        const double bad[] = { 1.0, 0.5 };
        assert_int_equal(histogram_init(&h, bad, 2), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buf_cap),         cmocka_unit_test(test_buf_json_string),
                cmocka_unit_test(test_buf_steal),       cmocka_unit_test(test_siphash_vectors),
                cmocka_unit_test(test_safe_parsers),    cmocka_unit_test(test_format_double),
                cmocka_unit_test(test_url_unescape),    cmocka_unit_test(test_blob),
                cmocka_unit_test(test_blob_attachment), cmocka_unit_test(test_error),
                cmocka_unit_test(test_read_full_file),  cmocka_unit_test(test_json_strict),
                cmocka_unit_test(test_metrics),         cmocka_unit_test(test_log_hold),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

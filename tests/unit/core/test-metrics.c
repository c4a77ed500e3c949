/* test-metrics.c — unit tests for src/core/metrics.c: Prometheus text headers, samples with escaped
 * labels, and histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "buf.h"
#include "metrics.h"

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
                cmocka_unit_test(test_metrics),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-release-svg.c — the plan's SVG: well-formed (parsed back by a strict check of tags), self-contained
 * (no external references), the bands' geometry and escaped version names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "release-svg.h"

/* Tags balance (a stack of names) and no attribute value holds a raw '<' or '&' that is not an entity. */
static void assert_balanced(const char *s)
{
        char stack[64][32];
        int depth = 0;

        for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
                if (p[1] == '?')
                        continue;
                bool closing = p[1] == '/';
                const char *name = p + 1 + closing, *end = strchr(p, '>');
                size_t n = strcspn(name, " />");
                assert_non_null(end);
                assert_true(n < 32);
                if (closing) {
                        assert_true(depth > 0);
                        depth--;
                        assert_true(strncmp(stack[depth], name, n) == 0 && stack[depth][n] == 0);
                } else if (end[-1] != '/') {
                        assert_true(depth < 64);
                        memcpy(stack[depth], name, n);
                        stack[depth++][n] = 0;
                }
        }
        assert_int_equal(depth, 0);
}

static void test_svg(void **state)
{
        int64_t times[3] = { 1800000000, 1800003600, 1800007200 };
        const char *versions[2] = { "40.1<&>", "40.2" };
        double share[6] = { 1.0, 0.0, 0.5, 0.5, 0.0, 1.0 };
        Plan p = { .n_times = 3, .times = times, .n_columns = 2, .versions = versions, .share = share };
        Buf b = BUF_INIT(1u << 20);

        assert_int_equal(plan_write_svg(&p, "plan & <more>", &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        const char *s = (const char *)b.data;
        assert_true(strncmp(s, "<?xml", 5) == 0);
        assert_non_null(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_balanced(s);
        assert_null(strstr(s, "href"));
        assert_null(strstr(s, "<script"));
        assert_null(strstr(s, "url("));
        assert_non_null(strstr(s, "plan &amp; &lt;more&gt;"));
        assert_non_null(strstr(s, "<title>40.1&lt;&amp;&gt;</title>"));
        /* Band 0 (40.1): top edge at 100% (y=40), 50% (y=230), 0% (y=420) left to right. */
        assert_non_null(strstr(s, "points=\"70.0,40.0 405.0,230.0 740.0,420.0 "));
        assert_non_null(strstr(s, "2027-01-15 08:00"));
        assert_non_null(strstr(s, ">100%</text>"));
        buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_svg),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz-report.c — libFuzzer target: an outcome report (agent-report.h) read back from a spool file that may
 * be damaged. Checks the decoder's promises: *ret untouched and a message on failure; on success a valid
 * report within its caps that encodes within REPORT_BODY_MAX and decodes again to the same report; and
 * that report_init() cleans any text from the input into a valid report. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-report.h"

static bool same_report(const OutcomeReport *a, const OutcomeReport *b)
{
        if (!streq(a->node, b->node) || !streq(a->group, b->group) || !streq(a->stream, b->stream) ||
            !streq(a->basearch, b->basearch) || !streq(a->from_version, b->from_version) ||
            !streq(a->to_version, b->to_version) || a->outcome != b->outcome ||
            !streq(a->detail, b->detail) || a->n_failed_checks != b->n_failed_checks || a->time != b->time)
                return false;
        for (size_t i = 0; i < a->n_failed_checks; i++)
                if (!streq(a->failed_checks[i], b->failed_checks[i]))
                        return false;
        return true;
}

static void check_roundtrip(const OutcomeReport *r)
{
        Buf b = BUF_INIT(REPORT_BODY_MAX);
        OutcomeReport *back = malloc(sizeof *back);
        Error e;

        if (!back)
                return;
        if (report_validate(r, &e) < 0 || r->n_failed_checks > REPORT_CHECKS_MAX ||
            strlen(r->detail) > REPORT_DETAIL_MAX || !report_outcome_to_string(r->outcome) || r->time < 0)
                __builtin_trap();
        if (report_encode(r, &b, &e) < 0 || b.len > REPORT_BODY_MAX ||
            report_decode(b.data, b.len, back, &e) < 0 || !same_report(back, r))
                __builtin_trap();
        buf_free(&b);
        free(back);
}

/* Free text from the input goes through report_init()'s cleaning. */
static void check_init(const uint8_t *data, size_t size)
{
        OutcomeReport *r = malloc(sizeof *r);
        char *text = strndup((const char *)data, size);
        const char *checks[2];
        Error e = { .message = "" };

        if (!r || !text) {
                free(r);
                free(text);
                return;
        }
        checks[0] = text;
        checks[1] = text + strlen(text) / 2;
        if (report_init(r, "0123456789abcdef0123456789abcdef", "g", "s", "a", "1", "2", REPORT_ROLLED_BACK,
                        text, checks, 2, 1, &e) == 0)
                check_roundtrip(r);
        else if (!e.message[0])
                __builtin_trap();
        free(text);
        free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        OutcomeReport *r = malloc(sizeof *r);
        Error e = { .message = "" };

        if (!r)
                return 0;
        memset(r, 0x5a, sizeof *r);
        if (report_decode((const char *)data, size, r, &e) < 0) {
                if (r->time != (int64_t)0x5a5a5a5a5a5a5a5a || !e.message[0])
                        __builtin_trap();
        } else
                check_roundtrip(r);
        free(r);
        check_init(data, size);
        return 0;
}

/* fuzz-tzfile.c — libFuzzer target for the TZif parser: parses the input, then queries offsets and
 * transitions at instants around the stored transitions and at the extremes, checking that offsets
 * stay within the RFC 8536 range and that transitions move forward; finally asks a calendar for its next
 * opening in the zone (the search must stay bounded whatever the transitions). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "tzfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_calendar(const TimeZone *tz)
{
        static const int64_t nows[] = { -(INT64_C(1) << 62), -2208988800, 0, 1711846800, INT64_C(1) << 62 };
        static const int sunday = 6, saturday = 5;
        Calendar *c = calendar_new();
        int64_t start, end;

        if (!c)
                return;
        if (calendar_add_window(c, &sunday, 1, 120, 60, NULL) < 0 ||
            calendar_add_window(c, &saturday, 1, 22 * 60, 480, NULL) < 0)
                abort();
        for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
                if (calendar_next_open(c, tz, nows[i], &start, &end) < 0)
                        continue;
                if (start < nows[i] || end <= start || !calendar_contains(c, tz, start))
                        abort();
        }
        calendar_free(c);
}

static void check(const TimeZone *tz, int64_t t)
{
        int32_t utoff;
        bool isdst;
        int64_t next;

        if (tz_offset_at(tz, t, &utoff, &isdst) != 0 || utoff < -89999 || utoff > 93599)
                abort();
        if (tz_next_transition(tz, t, &next) == 0 && next <= t)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const int64_t ts[] = {
                INT64_MIN,  -(INT64_C(1) << 59), -2208988800,      -1,       0, 1, 951782400, 1711846800,
                2147483647, 4102444800,          INT64_C(1) << 40, INT64_MAX
        };
        TimeZone *tz = NULL;
        Error e;
        int64_t t;
        int r;

        memset(&e, 0, sizeof(e));
        r = tz_parse(data, size, &tz, &e);
        if (r < 0) {
                if (tz || (r != -EBADMSG && r != -E2BIG && r != -ENOMEM && r != -EINVAL) ||
                    e.message[0] == 0 || !memchr(e.message, 0, sizeof(e.message)))
                        abort();
                return 0;
        }
        if (!tz)
                abort();
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
                check(tz, ts[i]);
        /* Walk a bounded number of transitions from 1900 on. */
        t = -2208988800;
        for (int i = 0; i < 64; i++) {
                check(tz, t);
                if (tz_next_transition(tz, t, &t) < 0)
                        break;
                check(tz, t - 1);
        }
        check_calendar(tz);
        tz_free(tz);
        return 0;
}

/* fuzz-tzposix.c — libFuzzer target for the POSIX TZ string parser (the TZif footer syntax): parses the
 * input as a string, then checks offsets and transitions at a few instants, including the extremes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tzfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const int64_t ts[] = { INT64_MIN,  -2208988800,   -1,       0, 1711846800,
                                      4102444800, INT64_MAX - 1, INT64_MAX };
        TimeZone *tz = NULL;
        Error e;
        char *s;
        int r;

        if (size > 4096)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        memset(&e, 0, sizeof(e));
        r = tz_from_posix(s, &tz, &e);
        free(s);
        if (r < 0) {
                if (tz || r != -EINVAL || e.message[0] == 0 || !memchr(e.message, 0, sizeof(e.message)))
                        abort();
                return 0;
        }
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
                int64_t t = ts[i], next;
                int32_t utoff;
                for (int j = 0; j < 8; j++) {
                        if (tz_offset_at(tz, t, &utoff, NULL) != 0 || utoff < -2 * 86400 ||
                            utoff > 2 * 86400)
                                abort();
                        if (tz_next_transition(tz, t, &next) < 0)
                                break;
                        if (next <= t)
                                abort();
                        t = next;
                }
        }
        tz_free(tz);
        return 0;
}

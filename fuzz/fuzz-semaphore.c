/* fuzz-semaphore.c — libFuzzer target: the stored semaphore form (an etcd value anyone with access to
 * etcd can write), then decisions on it and a round trip through the formatter. */
#include <stdint.h>
#include <string.h>

#include "lock-semaphore.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GroupPolicy p = { .slots = 2, .max_hold_secs = 50, .settle_secs = 5 };
        Semaphore s, again;
        Buf b = BUF_INIT(SEMAPHORE_VALUE_MAX * 2);
        LockDecision d;
        char **expired = NULL;
        size_t n = 0;
        Error e;

        if (semaphore_parse((const char *)data, size, &s, &e) < 0)
                return 0;
        (void)semaphore_maintain(&s, &p, 100, &expired, &n);
        (void)semaphore_lock(&s, "fuzz-node", &p, true, 100, &d);
        (void)semaphore_unlock(&s, "other", 101);
        for (size_t i = 1; i < s.n_holders; i++)
                if (strcmp(s.holders[i - 1].id, s.holders[i].id) >= 0)
                        __builtin_trap(); /* holders stay sorted and unique */
        if (semaphore_format(&s, &b) == 0) {
                if (semaphore_parse(b.data, b.len, &again, &e) < 0 || again.n_holders != s.n_holders)
                        __builtin_trap(); /* what we write we read back */
                semaphore_done(&again);
        }
        buf_free(&b);
        strv_free(expired);
        semaphore_done(&s);
        return 0;
}

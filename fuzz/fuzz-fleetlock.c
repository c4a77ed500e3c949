/* fuzz-fleetlock.c — libFuzzer target: FleetLock request bodies (what any client on the network can send
 * to upkeep-lock), admin release bodies and Authorization headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lock-request.h"
#include "lock-semaphore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        FleetLockRequest r = { 0 };
        char *id = NULL, *s;
        Error e;

        if (fleetlock_request_parse((const char *)data, size, &r, &e) == 0) {
                if (!semaphore_valid_id(r.id) || !lock_group_name_valid(r.group))
                        __builtin_trap(); /* only valid ids and groups get through */
                fleetlock_request_done(&r);
        }
        if (admin_release_parse((const char *)data, size, &id, &e) == 0)
                free(id);
        s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = 0;
                (void)fleetlock_header_valid(s);
                (void)bearer_matches(s, "token");
                free(s);
        }
        return 0;
}

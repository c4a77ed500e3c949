/* fuzz-agent-status.c — libFuzzer target: `upkeep status` renders whatever JSON the agent answered
 * (agent_status_format): it must reject or render anything without crashing, within bounds. (The agent's
 * side, the request parser, is fuzz-agent-request.c's.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-status.h"
#include "json-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *j = NULL;
        Error e;

        if (size > 256 * 1024)
                return 0;
        if (json_parse_strict((const char *)data, size, &j, &e) == 0) {
                Buf out = BUF_INIT(1u << 20);
                int r = agent_status_format(j, &out);
                if (r == 0 && !json_is_object(j))
                        __builtin_trap();
                /* also as the "status" member of a reply */
                json_t *st = json_is_object(j) ? json_object_get(j, "status") : NULL;
                if (st)
                        (void)agent_status_format(st, &out);
                buf_free(&out);
                json_decref(j);
        }
        return 0;
}

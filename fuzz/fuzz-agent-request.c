/* fuzz-agent-request.c — libFuzzer target: a client's request on upkeep-agent's status socket
 * (agent_request_decode). Anything is refused or parsed into a known method with a bounded, printable
 * argument, without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        AgentRequest r;
        Error e;

        if (size > 256 * 1024)
                return 0;
        if (agent_request_decode((const char *)data, size, &r, &e) < 0)
                return 0;
        if (!agent_method_name(r.method) || strlen(r.release) > AGENT_REQUEST_ARG_MAX)
                __builtin_trap();
        if (r.method == AGENT_METHOD_FORGET_RELEASE && r.release[0] == 0)
                __builtin_trap();
        if (r.method == AGENT_METHOD_STATUS && r.release[0] != 0)
                __builtin_trap();
        for (const char *p = r.release; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        __builtin_trap();
        return 0;
}

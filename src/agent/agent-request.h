/* agent-request.h — the requests a client writes to upkeep-agent's status socket, parsed. Pure.
 *
 * The protocol (docs/agent.md): a client connects (root or the agent's own user only), writes one JSON
 * object of at most AGENT_REQUEST_SIZE_MAX bytes ending with a newline (or closes its write side) and reads
 * one JSON object and a newline: {"ok":true,"status":{...}} or {"ok":false,"error":"..."}. Requests:
 *   {"method":"status"}
 *   {"method":"update-now"}                          check for an update now
 *   {"method":"update-now","allow":"VERSION"}        ... and stage VERSION even if it is recorded as bad
 *   {"method":"forget-release","release":"VERSION or CHECKSUM"}   drop it from the record of bad releases
 * Unknown members are ignored, so newer clients keep working with this parser. */
#pragma once

#include <stddef.h>

#include "agent-machine.h"
#include "error.h"

#define AGENT_REQUEST_SIZE_MAX 4096
/* bytes of a "release" or "allow" argument, NUL excluded: a version or an OSTree checksum */
#define AGENT_REQUEST_ARG_MAX (AGENT_VERSION_MAX > AGENT_PAYLOAD_MAX ? AGENT_VERSION_MAX : AGENT_PAYLOAD_MAX)

typedef enum AgentMethod {
        AGENT_METHOD_STATUS,
        AGENT_METHOD_UPDATE_NOW,
        AGENT_METHOD_FORGET_RELEASE,
        _AGENT_METHOD_MAX,
} AgentMethod;

typedef struct AgentRequest {
        AgentMethod method;
        /* forget-release: the version or checksum to forget; update-now: the version to allow ("" = none) */
        char release[AGENT_REQUEST_ARG_MAX + 1];
} AgentRequest;

/* Parses one request (a trailing newline allowed). -EINVAL with e saying why ("not JSON: ...", "missing
 * \"method\"", "unknown method 'x'", a bad argument; nothing of the client's echoed raw) or -E2BIG over
 * AGENT_REQUEST_SIZE_MAX bytes. *ret is written only on success. */
int agent_request_decode(const char *data, size_t len, AgentRequest *ret, Error *e);

const char *agent_method_name(AgentMethod m); /* "status", "update-now", "forget-release"; NULL if none */

/* lock-request.h — parsing of FleetLock requests (the header and the body Zincati and Airlock's clients
 * send) and of admin API bodies. Pure; fuzzed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define FLEETLOCK_MAX_BODY 65536

typedef struct FleetLockRequest {
        char *id;
        char *group;
} FleetLockRequest;

/* The FleetLock header must be exactly "true". */
bool fleetlock_header_valid(const char *value);
/* Parses {"client_params": {"id": ID, "group": GROUP}} (pretty or compact JSON, unknown fields
 * ignored). The id must be a valid holder id and the group a valid group name, and neither may hold what
 * text_clean() replaces (control characters C0, DEL, C1; bidi controls; noncharacters; invalid UTF-8): ids
 * and groups reach logs, the journal and `upkeep lock status`. Errors name the field. */
int fleetlock_request_parse(const char *body, size_t len, FleetLockRequest *ret, Error *e);
void fleetlock_request_done(FleetLockRequest *r);

/* Parses an admin release body {"id": ID}. Only the holder id rules apply (no bidi check), so that an
 * admin can still release a holder recorded before FleetLock refused such ids. */
int admin_release_parse(const char *body, size_t len, char **ret_id, Error *e);

/* Constant-time comparison of a presented "Authorization" header against "Bearer <token>". */
bool bearer_matches(const char *authorization, const char *token);

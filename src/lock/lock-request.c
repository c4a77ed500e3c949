/* lock-request.c — FleetLock and admin request parsing (see lock-request.h). */
#include "lock-request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json-util.h"
#include "lock-semaphore.h"
#include "strutil.h"

bool fleetlock_header_valid(const char *value)
{
        return value && strcmp(value, "true") == 0;
}

void fleetlock_request_done(FleetLockRequest *r)
{
        free(r->id);
        free(r->group);
        r->id = r->group = NULL;
}

int fleetlock_request_parse(const char *body, size_t len, FleetLockRequest *ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *params;
        const char *id, *group;
        char *i2, *g2;
        int r;

        if (!body || len == 0)
                return error_setf(e, -EINVAL,
                                  "empty body: expected {\"client_params\": {\"id\", \"group\"}}");
        if (len > FLEETLOCK_MAX_BODY)
                return error_setf(e, -E2BIG, "body larger than %d bytes", FLEETLOCK_MAX_BODY);
        r = json_parse_strict(body, len, &root, e);
        if (r < 0)
                return error_prefixf(e, r, "body is not valid JSON");
        r = json_member_object(root, "client_params", true, "body", &params, e);
        if (r >= 0)
                r = json_member_string(params, "id", true, "client_params", &id, e);
        if (r >= 0)
                r = json_member_string(params, "group", true, "client_params", &group, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (!semaphore_valid_id(id) || !text_is_clean(id, strlen(id), 0))
                return error_setf(e, -EINVAL,
                                  "client_params.id must be a non-empty printable string of at most %d "
                                  "bytes (UTF-8 without control or bidi characters)",
                                  SEMAPHORE_MAX_ID);
        if (!lock_group_name_valid(group) || !text_is_clean(group, strlen(group), 0))
                return error_setf(
                        e, -EINVAL,
                        "client_params.group must be a non-empty UTF-8 string of at most 255 bytes "
                        "without control characters (C0, DEL, C1, bidi controls)");
        i2 = strdup(id);
        g2 = strdup(group);
        if (!i2 || !g2) {
                free(i2);
                free(g2);
                return -ENOMEM;
        }
        ret->id = i2;
        ret->group = g2;
        return 0;
}

int admin_release_parse(const char *body, size_t len, char **ret_id, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        const char *id;
        char *d;
        int r;

        if (!body || len == 0)
                return error_setf(e, -EINVAL, "empty body: expected {\"id\": \"...\"}");
        if (len > FLEETLOCK_MAX_BODY)
                return error_setf(e, -E2BIG, "body larger than %d bytes", FLEETLOCK_MAX_BODY);
        r = json_parse_strict(body, len, &root, e);
        if (r < 0)
                return error_prefixf(e, r, "body is not valid JSON");
        r = json_member_string(root, "id", true, "body", &id, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (!semaphore_valid_id(id))
                return error_setf(e, -EINVAL, "id must be a non-empty printable string of at most %d bytes",
                                  SEMAPHORE_MAX_ID);
        d = strdup(id);
        if (!d)
                return -ENOMEM;
        *ret_id = d;
        return 0;
}

bool bearer_matches(const char *authorization, const char *token)
{
        size_t n, m;
        unsigned char diff = 0;

        if (!authorization || !token || strncasecmp(authorization, "Bearer ", 7) != 0)
                return false;
        authorization += 7;
        while (*authorization == ' ')
                authorization++;
        n = strlen(authorization);
        m = strlen(token);
        /* Compare every byte of the expected token whatever the input, so timing tells nothing. */
        for (size_t i = 0; i < m; i++)
                diff |= (unsigned char)(token[i] ^ (i < n ? authorization[i] : 0));
        return diff == 0 && n == m && m > 0;
}

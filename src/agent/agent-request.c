/* agent-request.c — the parser of upkeep-agent's status socket requests (agent-request.h). It accepts every
 * request older `upkeep` versions send, byte for byte as before. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "agent-request.h"
#include "agent-status.h"
#include "json-util.h"
#include "macros.h"
#include "strutil.h"

static const char *const method_names[_AGENT_METHOD_MAX] = {
        [AGENT_METHOD_STATUS] = "status",
        [AGENT_METHOD_UPDATE_NOW] = "update-now",
        [AGENT_METHOD_FORGET_RELEASE] = "forget-release",
};

const char *agent_method_name(AgentMethod m)
{
        return (unsigned)m < _AGENT_METHOD_MAX ? method_names[m] : NULL;
}

static int method_from_name(const char *s, AgentMethod *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(method_names); i++)
                if (streq(s, method_names[i])) {
                        *ret = (AgentMethod)i;
                        return 0;
                }
        return -EINVAL;
}

/* A release version or checksum: 1 to AGENT_REQUEST_ARG_MAX printable ASCII bytes, no spaces. */
static int parse_release_arg(const json_t *j, const char *key, bool required,
                             char ret[static AGENT_REQUEST_ARG_MAX + 1], Error *e)
{
        const char *s;
        size_t n;
        int r;

        r = json_member_string(j, key, required, "request", &s, e);
        if (r == -ENOENT && !required) {
                ret[0] = 0;
                return 0;
        }
        if (r < 0)
                return -EINVAL; /* missing or not a string: e says which */
        n = strlen(s);
        if (n == 0 || n > AGENT_REQUEST_ARG_MAX)
                return error_setf(e, -EINVAL,
                                  "\"%s\" must be a release version or checksum of 1 to %d bytes", key,
                                  AGENT_REQUEST_ARG_MAX);
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] >= 0x7f)
                        return error_setf(e, -EINVAL,
                                          "\"%s\" must be a release version or checksum: printable ASCII "
                                          "without spaces",
                                          key);
        memcpy(ret, s, n + 1);
        return 0;
}

int agent_request_decode(const char *data, size_t len, AgentRequest *ret, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        AgentRequest req = {};
        const char *method;
        int r;

        assert(data || len == 0);
        assert(ret);
        if (len > AGENT_REQUEST_SIZE_MAX)
                return error_setf(e, -E2BIG, "request larger than %d bytes", AGENT_REQUEST_SIZE_MAX);
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                len--;
        r = json_parse_strict(data ? data : "", len, &j, e);
        if (r < 0)
                return error_prefixf(e, r, "not JSON: ");
        if (!json_is_object(j))
                return error_setf(e, -EINVAL, "request must be a JSON object, not %s", json_type_name(j));
        r = json_member_string(j, "method", true, "request", &method, e);
        if (r < 0)
                return -EINVAL; /* missing or not a string: e says which */
        if (method_from_name(method, &req.method) < 0) {
                char shown[64];
                agent_text_copy(shown, sizeof shown, method);
                return error_setf(e, -EINVAL, "unknown method '%s' (status, update-now, forget-release)",
                                  shown);
        }
        if (req.method == AGENT_METHOD_FORGET_RELEASE)
                r = parse_release_arg(j, "release", true, req.release, e);
        else if (req.method == AGENT_METHOD_UPDATE_NOW)
                r = parse_release_arg(j, "allow", false, req.release, e);
        if (r < 0)
                return r;
        *ret = req;
        return 0;
}

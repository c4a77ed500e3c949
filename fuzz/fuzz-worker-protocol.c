/* fuzz-worker-protocol.c — libFuzzer target: the lines between upkeep-agent and upkeep-agent-worker
 * (worker-protocol.h). The worker parses the agent's request (worker_request_parse); the agent parses each
 * line of the worker's output (worker_line_parse) and decodes a result (worker_result_check, and the check,
 * lock, set-default and deployment decoders), and the worker reads a set-default checksum and a lock token.
 * Anything must be rejected or decoded without crashing, and what decodes must be consistent: a known
 * command and error kind name round-trips, a decoded request formats again, an accepted checksum is 64 hex
 * digits and an accepted token is a valid one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "worker-protocol.h"

static void decode_result(const json_t *res)
{
        WorkerErrorKind kind;
        WorkerCheckResult c;
        WorkerLockResult l;
        WorkerDeployment d;
        WorkerSetDefaultResult sd;
        Error e;
        int r;

        r = worker_result_check(res, &kind, &e);
        if (r > 0 || (r == 0 && !json_is_true(json_object_get(res, "ok"))))
                __builtin_trap();
        if (kind >= 0 && !worker_error_kind_to_string(kind))
                __builtin_trap();
        worker_check_result_parse(res, &c);
        if (c.decision >= 0 &&
            worker_decision_from_string(worker_decision_to_string(c.decision)) != c.decision)
                __builtin_trap();
        if (!c.deadend_reason)
                __builtin_trap();
        worker_lock_result_parse(res, &l);
        worker_set_default_result_parse(res, &sd);
        if (sd.changed && !json_is_true(json_object_get(res, "changed")))
                __builtin_trap();
        long status = 0;
        if (worker_report_status(res, &status) == 0 && (status < 100 || status > 599))
                __builtin_trap();
        (void)worker_deployment_find(c.deployments, "booted", &d);
        (void)worker_deployment_find(c.deployments, "rollback", &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        json_t *req = NULL, *res = NULL;
        WorkerCommand cmd;
        WorkerProgress p;
        Error e;
        int r;

        if (size > 256 * 1024)
                return 0;
        if (worker_request_parse(text, size, &cmd, &req, &e) == 0) {
                const char *checksum = NULL, *token = NULL;
                char *again = NULL;
                if (!worker_command_to_string(cmd))
                        __builtin_trap();
                if (worker_set_default_checksum(req, &checksum, &e) == 0 && strlen(checksum) != 64)
                        __builtin_trap();
                if (worker_lock_token_get(req, &token, &e) == 0 && token && !worker_lock_token_valid(token))
                        __builtin_trap();
                const char *url, *rtoken, *body;
                if (worker_report_get(req, &url, &rtoken, &body, &e) == 0 &&
                    (strncmp(url, "http", 4) != 0 || !*body || strlen(body) > WORKER_REPORT_BODY_MAX ||
                     (rtoken && !worker_lock_token_valid(rtoken))))
                        __builtin_trap();
                /* what the worker accepted, the agent can write */
                if (worker_request_format(cmd, json_deep_copy(req), NULL, &again, &e) == 0)
                        free(again);
                json_decref(req);
        }
        r = worker_line_parse(text, size, &p, &res, &e);
        if (r == 1) {
                if (!json_is_object(res))
                        __builtin_trap();
                decode_result(res);
                json_decref(res);
        } else if (r != 0 && r != -EBADMSG)
                __builtin_trap();
        return 0;
}

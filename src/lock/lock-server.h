/* lock-server.h — upkeep-lock's HTTP side: the FleetLock endpoints (/v1/pre-reboot, /v1/steady-state),
 * the routing to the admin API (lock-admin.h) and to the status endpoints (/metrics, /healthz,
 * /readyz), and the listeners.
 *
 * A request's way, all in lock-server.c: the listener's handler turns the HTTP request into a LockRequest
 * and calls lock_server_handle(), which answers everything but a valid FleetLock request at once. A valid
 * one (header, body, group and bearer token checked) comes back as a FleetLockCall, which the handler
 * submits to the group's batcher without waiting, the connection parked (fleetlock_call_submit()), or,
 * when it cannot be parked, runs and waits for (fleetlock_call_run()). Either way the decision becomes
 * the reply in one place (the call's answer), which counts and logs it.
 *
 * The handlers take a LockRequest and fill an HttpReply: no socket is needed to drive them. */
#pragma once

#include <stddef.h>

#include "http-server.h"
#include "lock-manager.h"

typedef struct LockRequest {
        const char *method;
        const char *path;
        const char *body; /* NULL when empty */
        size_t body_len;
        const char *fleet_lock_protocol; /* the header "fleet-lock-protocol", NULL when absent */
        const char *authorization;       /* the header "Authorization", NULL when absent */
} LockRequest;

/* A valid FleetLock request on its way to the backend. */
typedef struct FleetLockCall FleetLockCall;

/* Routes req: answers it in reply and returns 0, or, for a valid FleetLock request, returns 1 with
 * *ret_call (reply untouched) to run or submit. A negative errno means the server answers 500. */
int lock_server_handle(Manager *m, const LockRequest *req, HttpReply *reply, FleetLockCall **ret_call);
/* What the [status] listener serves: /metrics, /healthz and /readyz, 404 for the rest. */
int lock_server_handle_status(Manager *m, const LockRequest *req, HttpReply *reply);

/* Runs the call and waits for its decision, which fills reply. Frees the call. */
int fleetlock_call_run(FleetLockCall *call, HttpReply *reply);
/* Called once with a submitted call's reply (r as fleetlock_call_run() would return). It may run on any
 * thread, before fleetlock_call_submit() returns or after, and must not block. */
typedef void (*FleetLockAnswerFn)(void *userdata, int r, HttpReply *reply);
/* Submits the call to its group's batcher without waiting; answer(userdata, ...) is called exactly once.
 * Takes over the call. */
void fleetlock_call_submit(FleetLockCall *call, FleetLockAnswerFn answer, void *userdata);
void fleetlock_call_free(FleetLockCall *call);

/* Starts the FleetLock listener and, when configured, the status listener, as the boot configuration
 * says; writes the bound port to port_file (optional). Errors are logged. */
int lock_server_start(Manager *m, const char *port_file);

/* lock-admin.h — upkeep-lock's admin API under /v1/groups (docs/lock.md): the groups' state, releasing a
 * holder, pausing and resuming a group. It needs the admin bearer token and is off when none is
 * configured. */
#pragma once

#include "http-server.h"
#include "lock-manager.h"
#include "lock-server.h"

/* Answers an admin request (req->path under /v1/groups) against the generation gen. Returns 0 with reply
 * filled, or a negative errno (the server answers 500). */
int lock_admin_handle(Manager *m, Generation *gen, const LockRequest *req, HttpReply *reply);

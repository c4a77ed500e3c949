/* agent-socket.h — upkeep-agent's two unix sockets, served concurrently from the daemon's sd-event loop:
 * the status socket (agent-request.h's protocol; root or the agent's own user only) and the metrics socket
 * (Prometheus text, one exposition per connection).
 *
 * Every connection is non-blocking and has a deadline for its whole request and another for writing its
 * reply, so a client trickling bytes holds nothing but its own connection; each socket takes at most
 * AGENT_SOCKET_MAX_CONNECTIONS at once (more are closed at once). Nothing waits for a client: when the
 * loop ends, agent_sockets_free() closes whatever is still connected. */
#pragma once

#include <systemd/sd-event.h>

#include "agent-engine.h"
#include "error.h"
#include "time-util.h"

#define AGENT_SOCKET_DEADLINE_USEC (2 * USEC_PER_SEC) /* to send a whole request, then to read the reply */
#define AGENT_SOCKET_MAX_CONNECTIONS 64u              /* per socket */

typedef struct AgentSockets AgentSockets;

/* Creates both sockets (their directories too; the status socket mode 0600, the metrics socket 0666) and
 * serves them from event, answering from engine (both borrowed: they outlive the sockets). */
int agent_sockets_new(sd_event *event, Engine *engine, const char *status_path, const char *metrics_path,
                      AgentSockets **ret, Error *e);
/* Closes every connection and both sockets and removes the socket files. NULL-safe; returns NULL. */
AgentSockets *agent_sockets_free(AgentSockets *s);

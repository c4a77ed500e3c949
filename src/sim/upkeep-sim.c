/* upkeep-sim.c — the fleet simulator (a bench and test tool, not installed; docs/sim.md). N simulated nodes
 * each drive the agent's real state machine (agent-machine.h) on a virtual clock (a discrete-event loop
 * over sim-queue.h) with a simulated OS (a booted release per node, a reboot is a virtual delay), against
 * the real upkeep-graph and upkeep-lock: every check is a real GET /v1/graph with the node's node_uuid,
 * parsed and decided as the agent's worker does (graph_parse_json, agent_choose_target); the fleet_lock
 * strategy is real FleetLock POST /v1/pre-reboot and /v1/steady-state; outcomes are real POST /v1/report.
 * After an update each boot runs the real boot assessment (health-machine.h) with the record the agent
 * writes when it finalizes; only the checks' verdict is simulated: red on the bad release when a hash of
 * the node id says so, green otherwise. Prints one JSON summary line on stdout. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-machine.h"
#include "agent-report.h"
#include "agent-target.h"
#include "buf.h"
#include "error.h"
#include "graph.h"
#include "health-machine.h"
#include "http-client.h"
#include "sim-fleet.h"
#include "sim-queue.h"
#include "strutil.h"
#include "time-util.h"

#define SIM_CLI_NODES_MAX 200000 /* AgentMachine is about 2 KiB: 400 MiB at most */
#define SIM_RELEASES_MAX 16      /* distinct releases nodes boot in one run */
#define SIM_STEPS_MAX 64         /* machine steps in one tick (a tick is a short conversation) */
#define SIM_URL_MAX 1024

typedef struct SimRelease {
        char version[AGENT_VERSION_MAX + 1];
        char payload[AGENT_PAYLOAD_MAX + 1];
} SimRelease;

typedef struct SimNode {
        AgentMachine m;
        char uuid[SIM_UUID_LEN + 1];
        uint16_t group;
        uint8_t booted;    /* index into Sim.releases */
        int8_t denied;     /* a release index this node rolled back from (its denylist), -1: none */
        uint8_t next_boot; /* REBOOTING: the release it comes back on */
        uint8_t event;     /* what its queued event is (SimEventKind) */
        bool holding;      /* from a granted pre-reboot until its steady-state succeeded */
        bool tried_bad;    /* booted the bad release once */
        HealthRecord *rec; /* the boot assessment's record (an update in progress), or NULL */
        HealthMachine *hm; /* the boot assessment of this boot, or NULL */
} SimNode;

typedef enum SimEventKind {
        SIM_EV_TICK,   /* the agent machine's timer */
        SIM_EV_BOOT,   /* the node comes back up */
        SIM_EV_CHECKS, /* its health checks finished */
} SimEventKind;

typedef struct SimOptions {
        const char *graph_url, *lock_url, *stream, *basearch, *from_version;
        const char *bad_version; /* NULL: every boot is healthy */
        const char *target;      /* NULL: run to the end; else stop once every node booted it */
        unsigned nodes, groups, slots, fail_permille;
        int64_t interval_usec, reboot_usec, duration_usec, after_pause_usec, checks_usec;
        int64_t window_usec, period_usec; /* maintenance windows (periodic fleet_lock); 0: none */
        unsigned boot_attempts; /* GREENBOOT_MAX_BOOT_ATTEMPTS: boots of a red release before rolling back */
        uint64_t seed;
} SimOptions;

typedef struct SimStats {
        uint64_t ticks, steps, checks, check_errors, updates_offered;
        uint64_t lock_requests, lock_granted, lock_refused, lock_errors;
        uint64_t reports, report_errors, finalized, succeeded, rolled_back, manual, boots;
        uint64_t tried_bad, tried_bad_before_pause;
        uint64_t on_target;        /* nodes booted on --target */
        int64_t converged_at_usec; /* virtual, since the start; -1: not (yet) */
        bool paused;
        int64_t paused_at_usec; /* virtual, since the start */
        double frozen_percentage;
} SimStats;

typedef struct Sim {
        SimOptions o;
        SimNode *nodes;
        SimQueue q;
        SimHolders holders;
        SimRelease releases[SIM_RELEASES_MAX];
        size_t n_releases;
        HttpClient *graph_http, *lock_http;
        int64_t t0_usec;   /* virtual epoch: the wall clock when the run started */
        int64_t last_usec; /* virtual time of the last event run */
        uint64_t rng;
        SimStats st;
        /* the result of the last check, copied out of the graph before it is freed */
        char check_version[AGENT_VERSION_MAX + 1], check_payload[AGENT_PAYLOAD_MAX + 1];
        char check_reason[AGENT_REASON_MAX + 1];
} Sim;

/* Index of the release (version, payload), interned; -ENOBUFS past SIM_RELEASES_MAX. */
static int release_intern(Sim *s, const char *version, const char *payload)
{
        for (size_t i = 0; i < s->n_releases; i++)
                if (strcmp(s->releases[i].version, version) == 0 &&
                    strcmp(s->releases[i].payload, payload) == 0)
                        return (int)i;
        if (s->n_releases >= SIM_RELEASES_MAX || strlen(version) > AGENT_VERSION_MAX ||
            strlen(payload) > AGENT_PAYLOAD_MAX)
                return -ENOBUFS;
        SimRelease *r = &s->releases[s->n_releases];
        strcpy(r->version, version);
        strcpy(r->payload, payload);
        return (int)s->n_releases++;
}

/* GET /v1/graph for a node (node_uuid set, so the server's wariness and canary apply), parsed. */
static int fetch_graph(Sim *s, const char *uuid, Graph **ret, Error *e)
{
        char url[SIM_URL_MAX];
        int n = snprintf(url, sizeof url, "%s/v1/graph?basearch=%s&stream=%s%s%s", s->o.graph_url,
                         s->o.basearch, s->o.stream, uuid ? "&node_uuid=" : "", uuid ? uuid : "");
        if (n < 0 || (size_t)n >= sizeof url)
                return error_setf(e, -ENAMETOOLONG, "graph URL too long");
        const char *headers[] = { "Accept: application/json", NULL };
        HttpResponse resp = { 0 };
        int r = http_client_request(s->graph_http, "GET", url, headers, NULL, 0, &resp, e);
        if (r < 0)
                return r;
        if (resp.status != 200)
                r = error_setf(e, -EPROTO, "GET %s: HTTP %ld", url, resp.status);
        else
                r = graph_parse_json(resp.body, resp.body_len, ret, e);
        http_response_done(&resp);
        return r;
}

/* The check the worker makes: the graph, the target choice minus the node's denylist. Fills in. */
static void do_check(Sim *s, SimNode *node, AgentInput *in)
{
        Graph *g = NULL;
        Error e = { 0 };
        TargetChoice c;
        s->st.checks++;
        in->kind = AGENT_INPUT_CHECKED;
        in->check = AGENT_CHECK_ERROR;
        char *deny[2] = { node->denied >= 0 ? s->releases[node->denied].payload : NULL, NULL };
        if (fetch_graph(s, node->uuid, &g, &e) < 0 ||
            agent_choose_target(g, s->releases[node->booted].payload, deny, false, &c) < 0) {
                s->st.check_errors++;
                graph_free(g);
                return;
        }
        in->check = AGENT_CHECK_NO_UPDATE;
        if (c.decision == TARGET_UPDATE && strlen(g->nodes[c.target].version) <= AGENT_VERSION_MAX &&
            strlen(g->nodes[c.target].payload) <= AGENT_PAYLOAD_MAX) {
                strcpy(s->check_version, g->nodes[c.target].version);
                strcpy(s->check_payload, g->nodes[c.target].payload);
                in->check = AGENT_CHECK_UPDATE;
                in->version = s->check_version;
                in->payload = s->check_payload;
                s->st.updates_offered++;
        } else if (c.decision != TARGET_UPDATE && c.deadend) {
                snprintf(s->check_reason, sizeof s->check_reason, "%s",
                         c.deadend_reason ? c.deadend_reason : "");
                in->check = AGENT_CHECK_DEAD_END;
                in->reason = s->check_reason;
        }
        graph_free(g);
}

/* A FleetLock request (docs/lock.md): 200 → 1, 423 (or any other answer) → 0, no answer → negative. */
static int fleetlock(Sim *s, const char *endpoint, const SimNode *node)
{
        char url[SIM_URL_MAX], body[256];
        snprintf(url, sizeof url, "%s/v1/%s", s->o.lock_url, endpoint);
        int n = snprintf(body, sizeof body, "{\"client_params\": {\"id\": \"%s\", \"group\": \"g%u\"}}",
                         node->uuid, (unsigned)node->group);
        const char *headers[] = { "fleet-lock-protocol: true", "Content-Type: application/json", NULL };
        HttpResponse resp = { 0 };
        Error e = { 0 };
        s->st.lock_requests++;
        int r = http_client_request(s->lock_http, "POST", url, headers, body, (size_t)n, &resp, &e);
        if (r < 0) {
                s->st.lock_errors++;
                return r;
        }
        r = resp.status == 200;
        if (resp.status != 200 && resp.status != 423)
                s->st.lock_errors++;
        http_response_done(&resp);
        return r;
}

static bool do_steady(Sim *s, SimNode *node)
{
        if (fleetlock(s, "steady-state", node) <= 0)
                return false;
        if (node->holding) {
                node->holding = false;
                (void)sim_holders_release(&s->holders, node->group);
        }
        return true;
}

static bool do_pre_reboot(Sim *s, SimNode *node)
{
        if (fleetlock(s, "pre-reboot", node) <= 0) {
                s->st.lock_refused++;
                return false;
        }
        s->st.lock_granted++;
        if (!node->holding) {
                node->holding = true;
                if (sim_holders_take(&s->holders, node->group) > 0)
                        fprintf(stderr, "upkeep-sim: invariant broken: group g%u has %u holders, %u slots\n",
                                (unsigned)node->group, s->holders.held[node->group], s->holders.slots);
        }
        return true;
}

static int finalize(Sim *s, uint32_t i, int64_t now);

/* Feeds one input; fills *in with the result of the request the machine answers with. Returns 1 when
 * the tick goes on, 0 when it ended (the next event is queued), negative on a machine error. */
static int step_once(Sim *s, uint32_t i, int64_t now, AgentInput *in)
{
        SimNode *node = &s->nodes[i];
        AgentAction a;
        in->jitter = sim_rand01(&s->rng);
        int r = agent_machine_step(&node->m, in, now, &a);
        s->st.steps++;
        if (r < 0)
                return r;
        *in = (AgentInput){ 0 };
        switch (a.kind) {
        case AGENT_ACTION_SLEEP:
        case AGENT_ACTION_WARN_USERS:
                return sim_queue_push(&s->q, a.next_tick_usec, i) < 0 ? -ENOBUFS : 0;
        case AGENT_ACTION_REPORT_STEADY:
                *in = (AgentInput){ .kind = AGENT_INPUT_STEADY_REPORTED, .ok = do_steady(s, node) };
                return 1;
        case AGENT_ACTION_CHECK_UPDATES:
                do_check(s, node, in);
                return 1;
        case AGENT_ACTION_STAGE: /* the simulated OS stages at once */
                *in = (AgentInput){ .kind = AGENT_INPUT_STAGED, .ok = true };
                return 1;
        case AGENT_ACTION_CAN_FINALIZE: /* periodic fleet_lock: the lock is asked only inside a window */
                if (!sim_in_window(now - s->t0_usec, s->o.window_usec, s->o.period_usec))
                        *in = (AgentInput){ .kind = AGENT_INPUT_CAN_FINALIZE,
                                            .reason = "outside the maintenance window" };
                else
                        *in = (AgentInput){ .kind = AGENT_INPUT_CAN_FINALIZE,
                                            .can_finalize = do_pre_reboot(s, node) };
                return 1;
        case AGENT_ACTION_CHECK_USERS:
                *in = (AgentInput){ .kind = AGENT_INPUT_USERS, .users_logged_in = false };
                return 1;
        case AGENT_ACTION_FINALIZE: /* the host goes down: the machine ends with it */
                s->st.finalized++;
                return finalize(s, i, now);
        default:
                return -EINVAL;
        }
}

static int tick(Sim *s, uint32_t i, int64_t now)
{
        AgentInput in = { .kind = AGENT_INPUT_TICK };
        s->st.ticks++;
        for (unsigned n = 0; n < SIM_STEPS_MAX; n++) {
                int r = step_once(s, i, now, &in);
                if (r <= 0)
                        return r;
        }
        return -ELOOP;
}

/* POST /v1/report (docs/graph.md). */
static void send_report(Sim *s, const SimNode *node, const char *from_version, const char *to_version,
                        ReportOutcome outcome, const char *detail, int64_t now)
{
        OutcomeReport rep;
        Error e = { 0 };
        Buf body = BUF_INIT(REPORT_BODY_MAX);
        char url[SIM_URL_MAX];
        const char *checks[] = { "10-sim.sh" };
        bool failed = outcome != REPORT_SUCCEEDED;
        char group[16];
        snprintf(group, sizeof group, "g%u", (unsigned)node->group);
        snprintf(url, sizeof url, "%s/v1/report", s->o.graph_url);
        s->st.reports++;
        if (report_init(&rep, node->uuid, group, s->o.stream, s->o.basearch, from_version, to_version,
                        outcome, detail ? detail : "", checks, failed ? 1 : 0, now / (int64_t)USEC_PER_SEC,
                        &e) < 0 ||
            report_encode(&rep, &body, &e) < 0) {
                s->st.report_errors++;
                buf_free(&body);
                return;
        }
        const char *headers[] = { "Content-Type: application/json", NULL };
        HttpResponse resp = { 0 };
        if (http_client_request(s->graph_http, "POST", url, headers, body.data, body.len, &resp, &e) < 0 ||
            resp.status != 202)
                s->st.report_errors++;
        http_response_done(&resp);
        buf_free(&body);
}

/* GET /v1/rollouts: whether the bad release is paused (and its frozen percentage). */
static void poll_rollouts(Sim *s, int64_t now)
{
        char url[SIM_URL_MAX];
        HttpResponse resp = { 0 };
        Error e = { 0 };
        snprintf(url, sizeof url, "%s/v1/rollouts", s->o.graph_url);
        if (http_client_request(s->graph_http, "GET", url, NULL, NULL, 0, &resp, &e) < 0 ||
            resp.status != 200) {
                http_response_done(&resp);
                return;
        }
        json_t *doc = json_loadb(resp.body, resp.body_len, 0, NULL);
        json_t *list = json_object_get(doc, "rollouts"), *ro;
        size_t k;
        json_array_foreach(list, k, ro) {
                const char *stream = json_string_value(json_object_get(ro, "stream"));
                const char *release = json_string_value(json_object_get(ro, "release"));
                if (!stream || !release || !s->o.bad_version || strcmp(stream, s->o.stream) != 0 ||
                    strcmp(release, s->o.bad_version) != 0 || !json_is_true(json_object_get(ro, "paused")) ||
                    s->st.paused)
                        continue;
                s->st.paused = true;
                s->st.paused_at_usec = now - s->t0_usec;
                s->st.tried_bad_before_pause = s->st.tried_bad;
                s->st.frozen_percentage = json_number_value(json_object_get(ro, "frozen_percentage"));
        }
        json_decref(doc);
        http_response_done(&resp);
}

static int schedule(Sim *s, uint32_t i, SimEventKind kind, int64_t when)
{
        s->nodes[i].event = (uint8_t)kind;
        return sim_queue_push(&s->q, when, i) < 0 ? -ENOBUFS : 0;
}

/* A new agent process on node i: a fresh machine, which reports steady state first, ticking at now. */
static int start_agent(Sim *s, uint32_t i, int64_t now)
{
        AgentMachineConfig cfg = { .updates_enabled = true, .steady_interval_usec = s->o.interval_usec };
        int r = agent_machine_init(&s->nodes[i].m, &cfg, now);
        if (r < 0)
                return r;
        return schedule(s, i, SIM_EV_TICK, now);
}

/* FINALIZE: the agent writes the boot assessment's record (to, from, attempts left) and reboots. */
static int finalize(Sim *s, uint32_t i, int64_t now)
{
        SimNode *node = &s->nodes[i];
        int to = release_intern(s, node->m.release.version, node->m.release.payload);
        if (to < 0)
                return to;
        const SimRelease *from = &s->releases[node->booted];
        if (strlen(from->payload) > HEALTH_CHECKSUM_MAX ||
            strlen(s->releases[to].payload) > HEALTH_CHECKSUM_MAX ||
            strlen(from->version) > HEALTH_VERSION_MAX ||
            strlen(s->releases[to].version) > HEALTH_VERSION_MAX)
                return -E2BIG;
        if (!node->rec && !(node->rec = malloc(sizeof *node->rec)))
                return -ENOMEM;
        *node->rec =
                (HealthRecord){ .phase = HEALTH_PHASE_FINALIZED, .attempts_left = s->o.boot_attempts - 1 };
        strcpy(node->rec->to_checksum, s->releases[to].payload);
        strcpy(node->rec->to_version, s->releases[to].version);
        strcpy(node->rec->from_checksum, from->payload);
        strcpy(node->rec->from_version, from->version);
        node->next_boot = (uint8_t)to;
        return schedule(s, i, SIM_EV_BOOT, now + s->o.reboot_usec);
}

static ReportOutcome report_outcome_of(HealthOutcome o)
{
        switch (o) {
        case HEALTH_OUTCOME_SUCCEEDED:
                return REPORT_SUCCEEDED;
        case HEALTH_OUTCOME_ROLLED_BACK:
                return REPORT_ROLLED_BACK;
        case HEALTH_OUTCOME_BOOT_FALLBACK:
                return REPORT_BOOT_FALLBACK;
        case HEALTH_OUTCOME_MANUAL:
                return REPORT_MANUAL_INTERVENTION;
        default:
                return _REPORT_OUTCOME_INVALID; /* recovered: not sent, as the agent does */
        }
}

static void health_report(Sim *s, uint32_t i, const HealthStep *st, int64_t now)
{
        SimNode *node = &s->nodes[i];
        ReportOutcome o = report_outcome_of(st->outcome);
        if (o < 0 || !node->hm->have_record)
                return;
        const HealthRecord *rec = &node->hm->record;
        s->st.succeeded += o == REPORT_SUCCEEDED;
        s->st.rolled_back += o == REPORT_ROLLED_BACK;
        s->st.manual += o == REPORT_MANUAL_INTERVENTION;
        send_report(s, node, rec->from_version, rec->to_version, o, st->reason, now);
        if (o != REPORT_SUCCEEDED && !s->st.paused)
                poll_rollouts(s, now);
        if (o == REPORT_SUCCEEDED && s->o.target && strcmp(rec->to_version, s->o.target) == 0 &&
            ++s->st.on_target == s->o.nodes)
                s->st.converged_at_usec = now - s->t0_usec;
}

/* Performs one health step's actions in order, then goes on: the checks' result, a reboot, or the agent. */
static int health_actions(Sim *s, uint32_t i, const HealthStep *st, int64_t now)
{
        SimNode *node = &s->nodes[i];
        int r, next = -1;
        for (size_t k = 0; k < st->n_actions; k++) {
                switch (st->actions[k]) {
                case HEALTH_ACTION_RUN_CHECKS:
                        next = SIM_EV_CHECKS;
                        break;
                case HEALTH_ACTION_WRITE_RECORD:
                        *node->rec = *st->record;
                        break;
                case HEALTH_ACTION_REMOVE_RECORD:
                        free(node->rec);
                        node->rec = NULL;
                        break;
                case HEALTH_ACTION_MARK_BAD:
                case HEALTH_ACTION_ROLLBACK:
                        r = st->actions[k] == HEALTH_ACTION_MARK_BAD
                                    ? release_intern(s, st->record->to_version, st->record->to_checksum)
                                    : release_intern(s, st->record->from_version, st->record->from_checksum);
                        if (r < 0)
                                return r;
                        if (st->actions[k] == HEALTH_ACTION_MARK_BAD)
                                node->denied = (int8_t)r;
                        else
                                node->next_boot = (uint8_t)r;
                        break;
                case HEALTH_ACTION_REBOOT:
                        next = SIM_EV_BOOT;
                        break;
                case HEALTH_ACTION_REPORT:
                        health_report(s, i, st, now);
                        break;
                case HEALTH_ACTION_RELEASE_SLOT:
                        (void)do_steady(s, node);
                        break;
                default: /* hooks, GRUB's counter, the default deployment: nothing to simulate */
                        break;
                }
        }
        if (next == SIM_EV_CHECKS)
                return schedule(s, i, SIM_EV_CHECKS, now + s->o.checks_usec);
        free(node->hm);
        node->hm = NULL;
        if (next == SIM_EV_BOOT)
                return schedule(s, i, SIM_EV_BOOT, now + s->o.reboot_usec);
        return start_agent(s, i, now);
}

/* The node comes back up: with a record, the real boot assessment runs; without, the agent starts. */
static int boot(Sim *s, uint32_t i, int64_t now)
{
        SimNode *node = &s->nodes[i];
        HealthStep st;
        s->st.boots++;
        node->booted = node->next_boot;
        const SimRelease *b = &s->releases[node->booted];
        if (s->o.bad_version && strcmp(b->version, s->o.bad_version) == 0 && !node->tried_bad) {
                node->tried_bad = true;
                s->st.tried_bad++;
        }
        if (!node->rec)
                return start_agent(s, i, now);
        if (!node->hm && !(node->hm = malloc(sizeof *node->hm)))
                return -ENOMEM;
        HealthEvent ev = { .kind = HEALTH_EVENT_START,
                           .record = node->rec,
                           .booted_checksum = b->payload,
                           .have_previous = true,
                           .grub = HEALTH_GRUB_UNSET };
        int r = health_machine_init(node->hm, NULL, (uint64_t)(now - s->t0_usec));
        if (r >= 0)
                r = health_machine_step(node->hm, &ev, (uint64_t)(now - s->t0_usec), &st);
        return r < 0 ? r : health_actions(s, i, &st, now);
}

/* The health checks finished: red when the booted release is the bad one and the node's id says so. */
static int checks_done(Sim *s, uint32_t i, int64_t now)
{
        SimNode *node = &s->nodes[i];
        const SimRelease *b = &s->releases[node->booted];
        bool red = s->o.bad_version && strcmp(b->version, s->o.bad_version) == 0 &&
                   sim_node_fails(node->uuid, s->o.fail_permille) == 1;
        HealthEvent ev = { .kind = HEALTH_EVENT_CHECKS,
                           .verdict = red ? HEALTH_VERDICT_RED : HEALTH_VERDICT_GREEN,
                           .failed = red ? "10-sim.sh" : NULL };
        HealthStep st;
        if (!node->hm)
                return -EINVAL;
        int r = health_machine_step(node->hm, &ev, (uint64_t)(now - s->t0_usec), &st);
        return r < 0 ? r : health_actions(s, i, &st, now);
}

static int sim_setup(Sim *s)
{
        HttpClientOptions ho = { .no_proxy = true, .connect_timeout_ms = 5000, .total_timeout_ms = 30000 };
        Error e = { 0 };
        Graph *g = NULL;
        int r;
        if (http_client_new(&ho, &s->graph_http) < 0 || http_client_new(&ho, &s->lock_http) < 0)
                return -ENOMEM;
        r = fetch_graph(s, NULL, &g, &e);
        if (r < 0) {
                fprintf(stderr, "upkeep-sim: %s\n", e.message);
                return r;
        }
        r = -ENOENT;
        for (size_t k = 0; k < g->n_nodes; k++)
                if (strcmp(g->nodes[k].version, s->o.from_version) == 0)
                        r = release_intern(s, g->nodes[k].version, g->nodes[k].payload);
        graph_free(g);
        if (r < 0) {
                fprintf(stderr, "upkeep-sim: release %s is not in the graph of %s\n", s->o.from_version,
                        s->o.stream);
                return r;
        }
        s->nodes = calloc(s->o.nodes, sizeof *s->nodes);
        if (!s->nodes || sim_queue_init(&s->q, (size_t)s->o.nodes + 1) < 0)
                return -ENOMEM;
        r = sim_holders_init(&s->holders, s->o.groups, s->o.slots);
        if (r < 0)
                return r;
        s->t0_usec = (int64_t)now_usec(CLOCK_REALTIME);
        s->rng = s->o.seed;
        s->st.converged_at_usec = -1;
        for (uint32_t i = 0; i < s->o.nodes; i++) {
                SimNode *node = &s->nodes[i];
                node->denied = -1;
                node->group = (uint16_t)(i % s->o.groups);
                int64_t start = s->t0_usec + (int64_t)(sim_rand01(&s->rng) * (double)s->o.interval_usec);
                if (sim_node_uuid(s->o.seed, i, node->uuid) < 0 || start_agent(s, i, start) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int sim_run(Sim *s)
{
        SimEvent ev;
        int64_t end = s->t0_usec + s->o.duration_usec;
        while (sim_queue_pop(&s->q, &ev) == 0) {
                if (ev.time_usec > end || s->st.converged_at_usec >= 0)
                        break;
                if (s->st.paused && s->o.after_pause_usec >= 0 &&
                    ev.time_usec > s->t0_usec + s->st.paused_at_usec + s->o.after_pause_usec)
                        break;
                s->last_usec = ev.time_usec;
                SimNode *node = &s->nodes[ev.node];
                int r = node->event == SIM_EV_BOOT     ? boot(s, ev.node, ev.time_usec)
                        : node->event == SIM_EV_CHECKS ? checks_done(s, ev.node, ev.time_usec)
                                                       : tick(s, ev.node, ev.time_usec);
                if (r < 0) {
                        fprintf(stderr, "upkeep-sim: node %u at +%llds: %s\n", ev.node,
                                (long long)((ev.time_usec - s->t0_usec) / (int64_t)USEC_PER_SEC),
                                strerror(-r));
                        return r;
                }
        }
        poll_rollouts(s, s->last_usec);
        return 0;
}

static void print_summary(const Sim *s, double real_secs, int64_t virtual_usec)
{
        const SimStats *st = &s->st;
        unsigned holding = 0;
        for (size_t g = 0; g < s->holders.n_groups; g++)
                holding += s->holders.held[g];
        printf("{\"nodes\": %u, \"groups\": %u, \"slots\": %u, \"fail_permille\": %u, \"virtual_secs\": "
               "%lld, "
               "\"real_secs\": %.2f, \"ticks\": %llu, \"steps\": %llu, \"checks\": %llu, \"check_errors\": "
               "%llu, "
               "\"updates_offered\": %llu, \"lock_requests\": %llu, \"lock_granted\": %llu, "
               "\"lock_refused\": %llu, \"lock_errors\": %llu, \"reports\": %llu, \"report_errors\": %llu, "
               "\"finalized\": %llu, \"succeeded\": %llu, \"rolled_back\": %llu, \"tried_bad\": %llu, "
               "\"paused\": %s, \"paused_at_virtual_secs\": %lld, \"tried_bad_before_pause\": %llu, "
               "\"frozen_percentage\": %.4f, \"max_holders_per_group\": %u, \"holding_at_end\": %u, "
               "\"invariant_violations\": %llu, \"manual\": %llu, \"boots\": %llu, \"on_target\": %llu, "
               "\"converged_at_virtual_secs\": %lld}\n",
               s->o.nodes, s->o.groups, s->o.slots, s->o.fail_permille,
               (long long)(virtual_usec / (int64_t)USEC_PER_SEC), real_secs, (unsigned long long)st->ticks,
               (unsigned long long)st->steps, (unsigned long long)st->checks,
               (unsigned long long)st->check_errors, (unsigned long long)st->updates_offered,
               (unsigned long long)st->lock_requests, (unsigned long long)st->lock_granted,
               (unsigned long long)st->lock_refused, (unsigned long long)st->lock_errors,
               (unsigned long long)st->reports, (unsigned long long)st->report_errors,
               (unsigned long long)st->finalized, (unsigned long long)st->succeeded,
               (unsigned long long)st->rolled_back, (unsigned long long)st->tried_bad,
               st->paused ? "true" : "false",
               st->paused ? (long long)(st->paused_at_usec / (int64_t)USEC_PER_SEC) : -1LL,
               (unsigned long long)st->tried_bad_before_pause, st->frozen_percentage,
               sim_holders_most(&s->holders), holding, (unsigned long long)s->holders.violations,
               (unsigned long long)st->manual, (unsigned long long)st->boots,
               (unsigned long long)st->on_target,
               st->converged_at_usec >= 0 ? (long long)(st->converged_at_usec / (int64_t)USEC_PER_SEC)
                                          : -1LL);
}

static int parse_uint(const char *name, const char *arg, uint64_t lo, uint64_t hi, uint64_t *ret)
{
        uint64_t v;
        if (safe_atou64(arg, &v) < 0 || v < lo || v > hi) {
                fprintf(stderr, "upkeep-sim: --%s: '%s' is not a whole number in %llu..%llu\n", name, arg,
                        (unsigned long long)lo, (unsigned long long)hi);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static const struct option long_options[] = {
        { "graph", required_argument, NULL, 'g' },    { "lock", required_argument, NULL, 'l' },
        { "stream", required_argument, NULL, 's' },   { "basearch", required_argument, NULL, 'a' },
        { "from", required_argument, NULL, 'f' },     { "bad", required_argument, NULL, 'b' },
        { "nodes", required_argument, NULL, 'n' },    { "groups", required_argument, NULL, 'G' },
        { "slots", required_argument, NULL, 'S' },    { "fail-permille", required_argument, NULL, 'p' },
        { "interval", required_argument, NULL, 'i' }, { "reboot", required_argument, NULL, 'r' },
        { "duration", required_argument, NULL, 'd' }, { "after-pause", required_argument, NULL, 'P' },
        { "seed", required_argument, NULL, 'x' },     { "target", required_argument, NULL, 't' },
        { "checks", required_argument, NULL, 'c' },   { "boot-attempts", required_argument, NULL, 'B' },
        { "window", required_argument, NULL, 'w' },   { "period", required_argument, NULL, 'Q' },
        { "help", no_argument, NULL, 'h' },           { 0 },
};

static const char usage[] =
        "usage: upkeep-sim --graph URL --lock URL --from VERSION [--bad VERSION] [--target VERSION]\n"
        "       [--stream S] [--basearch A]\n"
        "       [--nodes N] [--groups G] [--slots S] [--fail-permille P] [--interval SECS] [--reboot SECS]\n"
        "       [--duration SECS] [--after-pause SECS] [--seed X] [--checks SECS] [--boot-attempts N]\n"
        "       [--window SECS --period SECS]   (reboots start only in windows of SECS every period)\n";

typedef enum SimNumberKind {
        SIM_NUM_UNSIGNED, /* an unsigned */
        SIM_NUM_SECS,     /* seconds, stored as an int64_t of microseconds */
        SIM_NUM_U64,      /* a uint64_t */
} SimNumberKind;

/* A number option into its place in o. */
static int set_number(SimOptions *o, int c, const char *arg)
{
        static const struct {
                int c;
                const char *name;
                uint64_t lo, hi;
                size_t offset; /* of its field in SimOptions */
                SimNumberKind kind;
        } spec[] = {
                { 'n', "nodes", 1, SIM_CLI_NODES_MAX, offsetof(SimOptions, nodes), SIM_NUM_UNSIGNED },
                { 'G', "groups", 1, SIM_GROUPS_MAX, offsetof(SimOptions, groups), SIM_NUM_UNSIGNED },
                { 'S', "slots", 1, 1000000, offsetof(SimOptions, slots), SIM_NUM_UNSIGNED },
                { 'p', "fail-permille", 0, 1000, offsetof(SimOptions, fail_permille), SIM_NUM_UNSIGNED },
                { 'i', "interval", 1, 86400, offsetof(SimOptions, interval_usec), SIM_NUM_SECS },
                { 'r', "reboot", 1, 86400, offsetof(SimOptions, reboot_usec), SIM_NUM_SECS },
                { 'd', "duration", 1, 366 * 86400, offsetof(SimOptions, duration_usec), SIM_NUM_SECS },
                { 'P', "after-pause", 0, 366 * 86400, offsetof(SimOptions, after_pause_usec), SIM_NUM_SECS },
                { 'x', "seed", 0, UINT64_MAX, offsetof(SimOptions, seed), SIM_NUM_U64 },
                { 'c', "checks", 0, 86400, offsetof(SimOptions, checks_usec), SIM_NUM_SECS },
                { 'B', "boot-attempts", 1, HEALTH_ATTEMPTS_MAX + 1, offsetof(SimOptions, boot_attempts),
                  SIM_NUM_UNSIGNED },
                { 'w', "window", 0, 366 * 86400, offsetof(SimOptions, window_usec), SIM_NUM_SECS },
                { 'Q', "period", 1, 366 * 86400, offsetof(SimOptions, period_usec), SIM_NUM_SECS },
        };
        uint64_t v = 0;
        for (size_t k = 0; k < sizeof spec / sizeof spec[0]; k++) {
                if (spec[k].c != c)
                        continue;
                if (parse_uint(spec[k].name, arg, spec[k].lo, spec[k].hi, &v) < 0)
                        return -EINVAL;
                char *field = (char *)o + spec[k].offset;
                if (spec[k].kind == SIM_NUM_SECS)
                        *(int64_t *)field = (int64_t)v * (int64_t)USEC_PER_SEC;
                else if (spec[k].kind == SIM_NUM_UNSIGNED)
                        *(unsigned *)field = (unsigned)v;
                else
                        *(uint64_t *)field = v;
                return 0;
        }
        fprintf(stderr, "%s", usage);
        return -EINVAL;
}

static int parse_args(int argc, char **argv, SimOptions *o)
{
        *o = (SimOptions){ .stream = "stable",
                           .basearch = "x86_64",
                           .nodes = 1000,
                           .groups = 1,
                           .slots = 1,
                           .fail_permille = 300,
                           .interval_usec = 300 * USEC_PER_SEC,
                           .reboot_usec = 60 * USEC_PER_SEC,
                           .duration_usec = 4 * 3600 * USEC_PER_SEC,
                           .after_pause_usec = -1,
                           .checks_usec = 30 * USEC_PER_SEC,
                           .boot_attempts = 3,
                           .seed = 1 };
        int c;
        while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
                switch (c) {
                case 'g':
                        o->graph_url = optarg;
                        break;
                case 'l':
                        o->lock_url = optarg;
                        break;
                case 's':
                        o->stream = optarg;
                        break;
                case 'a':
                        o->basearch = optarg;
                        break;
                case 'f':
                        o->from_version = optarg;
                        break;
                case 'b':
                        o->bad_version = optarg;
                        break;
                case 't':
                        o->target = optarg;
                        break;
                case 'h':
                        printf("%s", usage);
                        exit(EXIT_SUCCESS);
                default:
                        if (set_number(o, c, optarg) < 0)
                                return -EINVAL;
                }
        }
        if (optind < argc || !o->graph_url || !o->lock_url || !o->from_version ||
            (o->window_usec > 0 && o->period_usec <= o->window_usec)) {
                fprintf(stderr, "%s", usage);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char **argv)
{
        Sim s = { 0 };
        if (parse_args(argc, argv, &s.o) < 0)
                return 2;
        double t = now_seconds(CLOCK_MONOTONIC);
        int r = sim_setup(&s);
        if (r >= 0)
                r = sim_run(&s);
        if (r >= 0) {
                print_summary(&s, now_seconds(CLOCK_MONOTONIC) - t, s.last_usec - s.t0_usec);
        } else {
                fprintf(stderr, "upkeep-sim: run failed: %s\n", strerror(-r));
        }
        http_client_free(s.graph_http);
        http_client_free(s.lock_http);
        sim_queue_done(&s.q);
        for (size_t i = 0; s.nodes && i < s.o.nodes; i++) {
                free(s.nodes[i].rec);
                free(s.nodes[i].hm);
        }
        free(s.nodes);
        return r < 0 ? 1 : (s.holders.violations ? 3 : 0);
}

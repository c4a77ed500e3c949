/* sim-fleet.h — the fleet simulator's pure helpers: deterministic node identities and fates (which nodes
 * a bad release fails on, from a hash of the node id), a seeded random source for the agents' jitter, and
 * the simulator's own count of lock holders per group (the invariant it checks: never more holders than
 * slots). Pure: no clock, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_NODES_MAX 1000000 /* nodes in one run */
#define SIM_GROUPS_MAX 1024   /* lock groups in one run */
#define SIM_UUID_LEN 32       /* lower-case hex digits, as node_uuid and a report's node */

/* Node i's id under seed: 32 lower-case hex digits and a NUL into out (SIM_UUID_LEN + 1 bytes). Distinct
 * indices give distinct ids for one seed (the index is part of the id's hash input and of its last 8
 * digits). -EINVAL for out NULL or i >= SIM_NODES_MAX. */
int sim_node_uuid(uint64_t seed, uint32_t i, char *out);

/* Whether the bad release fails its health checks on the node with this id: the id's SipHash below
 * fail_permille / 1000 of the range. 0 ‰ never, 1000 ‰ always. -EINVAL for a bad id or a share over 1000;
 * else 1 (fails) or 0. */
int sim_node_fails(const char *uuid, unsigned fail_permille);

/* A seeded random number in [0, 1) (splitmix64 over *state). */
double sim_rand01(uint64_t *state);

typedef struct SimHolders {
        unsigned slots;                /* per group */
        size_t n_groups;               /* 1 .. SIM_GROUPS_MAX */
        unsigned held[SIM_GROUPS_MAX]; /* current holders per group */
        unsigned most[SIM_GROUPS_MAX]; /* the most holders a group ever had at once */
        uint64_t violations;           /* takes that left a group over its slots */
} SimHolders;

/* -EINVAL for n_groups out of 1 .. SIM_GROUPS_MAX or slots 0. */
int sim_holders_init(SimHolders *h, size_t n_groups, unsigned slots);
/* A node of group took a slot (a granted pre-reboot it did not hold). Returns 1 when the group now has
 * more holders than slots (counted in violations), 0 otherwise; -EINVAL for an unknown group. */
int sim_holders_take(SimHolders *h, size_t group);
/* A holder of group released its slot (its steady-state report succeeded). -EINVAL for an unknown group
 * or a group without holders. */
int sim_holders_release(SimHolders *h, size_t group);
/* The most holders any group had at once. */
unsigned sim_holders_most(const SimHolders *h);

/* Whether a maintenance window is open since_usec after the start of the run: windows of window_usec open at
 * every multiple of period_usec (the first at the start). window_usec 0: no windows, always open. */
bool sim_in_window(int64_t since_usec, int64_t window_usec, int64_t period_usec);

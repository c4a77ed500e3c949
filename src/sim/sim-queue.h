/* sim-queue.h — the fleet simulator's event queue: a binary min-heap of (virtual time, node) with a fixed
 * capacity, popped in time order (ties: the lower node index first, so a run is deterministic). Pure: no
 * clock, no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIM_QUEUE_MAX (UINT32_C(1) << 24) /* most events a queue holds */

typedef struct SimEvent {
        int64_t time_usec; /* virtual time */
        uint32_t node;
} SimEvent;

typedef struct SimQueue {
        SimEvent *heap;
        size_t n, cap;
} SimQueue;

/* An empty queue for up to cap events (1 .. SIM_QUEUE_MAX). -EINVAL for a cap out of range, -ENOMEM. */
int sim_queue_init(SimQueue *q, size_t cap);
void sim_queue_done(SimQueue *q);

/* Adds an event. -ENOBUFS when the queue is full (nothing changes). */
int sim_queue_push(SimQueue *q, int64_t time_usec, uint32_t node);

/* Removes the earliest event into *ret. -ENOENT when the queue is empty (*ret unchanged). */
int sim_queue_pop(SimQueue *q, SimEvent *ret);

/* The earliest event without removing it; -ENOENT when empty. */
int sim_queue_peek(const SimQueue *q, SimEvent *ret);

/* sim-queue.c — the simulator's event queue, a binary min-heap (see sim-queue.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "sim-queue.h"

int sim_queue_init(SimQueue *q, size_t cap)
{
        if (!q || cap == 0 || cap > SIM_QUEUE_MAX)
                return -EINVAL;
        SimEvent *heap = calloc(cap, sizeof *heap);
        if (!heap)
                return -ENOMEM;
        *q = (SimQueue){ .heap = heap, .n = 0, .cap = cap };
        return 0;
}

void sim_queue_done(SimQueue *q)
{
        if (!q)
                return;
        free(q->heap);
        *q = (SimQueue){ 0 };
}

static bool before(const SimEvent *a, const SimEvent *b)
{
        if (a->time_usec != b->time_usec)
                return a->time_usec < b->time_usec;
        return a->node < b->node;
}

int sim_queue_push(SimQueue *q, int64_t time_usec, uint32_t node)
{
        if (!q)
                return -EINVAL;
        if (q->n >= q->cap)
                return -ENOBUFS;
        size_t i = q->n++;
        SimEvent ev = { .time_usec = time_usec, .node = node };
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!before(&ev, &q->heap[parent]))
                        break;
                q->heap[i] = q->heap[parent];
                i = parent;
        }
        q->heap[i] = ev;
        return 0;
}

int sim_queue_peek(const SimQueue *q, SimEvent *ret)
{
        if (!q || !ret)
                return -EINVAL;
        if (q->n == 0)
                return -ENOENT;
        *ret = q->heap[0];
        return 0;
}

int sim_queue_pop(SimQueue *q, SimEvent *ret)
{
        int r = sim_queue_peek(q, ret);
        if (r < 0)
                return r;
        SimEvent last = q->heap[--q->n];
        size_t i = 0;
        for (;;) {
                size_t child = 2 * i + 1;
                if (child >= q->n)
                        break;
                if (child + 1 < q->n && before(&q->heap[child + 1], &q->heap[child]))
                        child++;
                if (!before(&q->heap[child], &last))
                        break;
                q->heap[i] = q->heap[child];
                i = child;
        }
        if (q->n > 0)
                q->heap[i] = last;
        return 0;
}

/* graph-metrics.h — upkeep-graph's /metrics page (Prometheus text format): requests by stream and
 * status, graph sizes, refreshes, the wariness histogram and the answer cache. Pure: renders what the
 * streams hold. */
#pragma once

#include "buf.h"
#include "graph-stream.h"

#define GRAPH_METRICS_MAX_BYTES (4u << 20)

/* Appends the page to out. Thread-safe (counters are read atomically, graphs by reference). */
int graph_metrics_write(GraphStreams *gs, Buf *out);

/* graph-etcd-keys.h — the etcd layout of upkeep-graph's shared report store (graph-report-etcd.c): key
 * names and values, encoded and strictly decoded. Pure. Under the configured prefix P:
 *
 *   P reports/<release>/<outcome>/<node>             a report (JSON), created only if absent: one per
 *                                                     (node, to_version, outcome), as SQLite's primary key
 *   P counts/<stream>/<release>/<group>/<outcome>    the number of reports of that key (decimal)
 *   P pauses/<stream>/<release>                      a pause record (JSON), written by compare-and-swap
 *
 * Components are escaped: bytes of [A-Za-z0-9._~-] as they are, every other byte as %XX (upper-case
 * hex), so no component holds a '/'. Keys are at most GRAPH_ETCD_KEY_MAX bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph-policy.h"
#include "graph-report.h"

#define GRAPH_ETCD_DEFAULT_PREFIX "upkeep-graph/"
#define GRAPH_ETCD_PREFIX_MAX 256
#define GRAPH_ETCD_KEY_MAX 4096
#define GRAPH_ETCD_VALUE_MAX 32768 /* a report's JSON is under 13 KiB, a pause's under 2 KiB */

typedef enum GraphEtcdSection {
        GRAPH_ETCD_REPORTS,
        GRAPH_ETCD_COUNTS,
        GRAPH_ETCD_PAUSES,
        _GRAPH_ETCD_SECTION_MAX,
} GraphEtcdSection;

/* A prefix is 1 to GRAPH_ETCD_PREFIX_MAX printable ASCII characters without spaces. */
bool graph_etcd_prefix_valid(const char *prefix);

/* Keys into buf (size bytes); -ENAMETOOLONG when they do not fit, -EINVAL for an invalid prefix or
 * outcome. */
int graph_etcd_report_key(const char *prefix, const char *release, GraphReportOutcome o, const char *node,
                          char *buf, size_t size);
int graph_etcd_count_key(const char *prefix, const char *stream, const char *release, const char *group,
                         GraphReportOutcome o, char *buf, size_t size);
int graph_etcd_pause_key(const char *prefix, const char *stream, const char *release, char *buf,
                         size_t size);
/* Every key of a section is in [from, end): "P<section>/" and "P<section>0". */
int graph_etcd_section_range(const char *prefix, GraphEtcdSection s, char *from, char *end, size_t size);

/* Decodes a counts key (-EINVAL when it is not one: wrong prefix, bad escape, a component over its cap,
 * an unknown outcome). The buffers are GraphReportCount's. */
int graph_etcd_count_key_parse(const char *prefix, const char *key, char stream[GRAPH_REPORT_MAX_NAME + 1],
                               char release[GRAPH_REPORT_MAX_VERSION + 1],
                               char group[GRAPH_REPORT_MAX_NAME + 1], GraphReportOutcome *ret);
/* A count's value: 1 to 20 decimal digits, no sign; -EINVAL otherwise. */
int graph_etcd_count_parse(const char *value, size_t len, uint64_t *ret);

/* A report's value: its fields and when it was received. */
int graph_etcd_report_encode(const GraphReport *r, int64_t received, Buf *out);

/* A pause record's value, and back: -EINVAL with e naming the field when malformed. */
int graph_etcd_pause_encode(const GraphPause *p, Buf *out);
int graph_etcd_pause_decode(const char *value, size_t len, GraphPause *ret, Error *e);

/* agent-identity.h — who a node is to the update graph server (Zincati's identity): the node uuid, the
 * platform from the kernel command line, and the graph request URL built from them. Pure: callers read
 * /proc/cmdline, the machine id and the booted deployment. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Longest platform id accepted from the kernel command line, and the most of a command line scanned. */
#define IDENTITY_PLATFORM_MAX 256
#define IDENTITY_CMDLINE_MAX (64u * 1024u)

typedef struct Identity {
        char node_uuid[33]; /* 32 lower-case hex digits */
        char *group;
        char *basearch;
        char *platform;
        char *stream;
        char *os_version;
        char *os_checksum; /* the booted commit, or the booted image with its digest when oci */
        bool oci;          /* booted from a container image: Zincati's "oci=true" */
        bool has_rollout_wariness;
        double rollout_wariness; /* in [0, 1] when has_rollout_wariness */
} Identity;

/* Frees the strings and zeroes id. */
void identity_done(Identity *id);

/* Formats 16 bytes as 32 lower-case hex digits. */
int identity_format_uuid(const uint8_t id[16], char ret[33]);
/* Validates a configured node uuid: 32 hex digits (either case), or the same with dashes in the RFC 4122
 * places (8-4-4-4-12), as sd_id128_from_string() accepts. Writes 32 lower-case hex digits. -EINVAL. */
int identity_parse_uuid(const char *s, char ret[33]);

/* The value of the first "ignition.platform.id=" parameter of a kernel command line (words separated by
 * whitespace; double quotes group and are removed, as the kernel does). -ENOENT when absent, -EINVAL when
 * its value is empty, -E2BIG when it is longer than IDENTITY_PLATFORM_MAX or the command line longer than
 * IDENTITY_CMDLINE_MAX, -ENOMEM. */
int identity_parse_platform(const char *cmdline, char **ret);

/* Appends base_url joined with the relative path rel ("v1/graph", "v1/pre-reboot") as an RFC 3986
 * relative reference, as Zincati's URL joins do: the base's query and fragment dropped, its last path
 * segment replaced, dot segments removed. rel is a plain relative path (letters, digits, "-_./", no dot
 * segments). -EINVAL when base_url is not "scheme://authority…" or rel is not plain; -ENOBUFS at out's
 * cap. out is unchanged on failure. */
int agent_url_join(const char *base_url, const char *rel, Buf *out);

/* Appends Zincati's graph request URL to out: base_url (templates already substituted) joined with
 * "v1/graph" as an RFC 3986 relative reference (the base's query and fragment dropped, its last path
 * segment replaced, dot segments removed), then the query basearch, os_version, group, node_uuid,
 * platform, stream, os_checksum (form-urlencoded like Zincati's HTTP client: alphanumerics and "*-._"
 * as is, space as '+', the rest %XX), "oci=true" when id->oci (Zincati's image hosts; the graph server
 * then answers with image payloads) and rollout_wariness with six decimals when set. NULL fields are
 * sent empty. -EINVAL when base_url is not "scheme://authority…" or the wariness is not in [0, 1];
 * -ENOBUFS when out's cap is reached. out is unchanged on failure. */
int graph_request_url(const char *base_url, const Identity *id, Buf *out);

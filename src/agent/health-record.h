/* health-record.h — the boot assessment's record (health-machine.h's HealthRecord) as the JSON document
 * the agent keeps in <state_dir>/health.json between the finalization of an update and the end of the
 * assessment at the next boots:
 *   {"phase": "finalized", "attempts_left": 2,
 *    "to": {"version": "41.2", "checksum": "ab12…"}, "from": {"version": "41.1", "checksum": "cd34…"}}
 * Decoding is strict (types, caps, health_record_validate()); unknown members are ignored for later
 * versions. Pure. */
#pragma once

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "health-machine.h"

#define HEALTH_RECORD_FILE "health.json"
#define HEALTH_RECORD_FILE_MAX 4096 /* bytes of a document the decoder accepts */

/* Appends the document (with a final newline) to out. -EINVAL for a record health_record_validate()
 * refuses, -ENOBUFS past out's cap, -ENOMEM. */
int health_record_encode(const HealthRecord *r, Buf *out);
/* Decodes len bytes into *ret (written only on success). -EINVAL with e naming the member at fault,
 * -EFBIG over HEALTH_RECORD_FILE_MAX. */
int health_record_decode(const char *data, size_t len, HealthRecord *ret, Error *e);

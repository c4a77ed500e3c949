/* blob.h — an immutable, reference-counted byte string shared between threads: a serialized answer
 * is built once and then handed to any number of concurrent responses without copying. */
#pragma once

#include <stddef.h>

typedef struct Blob {
        unsigned long refs; /* atomic */
        size_t len;
        char data[]; /* NUL-terminated; the NUL is not counted in len */
} Blob;

/* Copies n bytes into a new blob with one reference. NULL on allocation failure. */
Blob *blob_new(const void *data, size_t n);
Blob *blob_ref(Blob *b);
/* Drops one reference; frees on the last. Returns NULL. NULL is fine. */
Blob *blob_unref(Blob *b);

static inline void blob_unrefp(Blob **b)
{
        if (*b)
                blob_unref(*b);
}
#define _cleanup_blob_ __attribute__((cleanup(blob_unrefp)))

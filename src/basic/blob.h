/* blob.h — an immutable, reference-counted byte string shared between threads: a serialized answer
 * is built once and then handed to any number of concurrent responses without copying. */
#pragma once

#include <stddef.h>

/* Something a consumer derives from a blob once and keeps with it (the HTTP adapter keeps a ready-made
 * response there). Embed it as the first member of your own struct. */
typedef struct BlobAttachment BlobAttachment;
struct BlobAttachment {
        void (*free)(BlobAttachment *a);
};

typedef struct Blob {
        unsigned long refs;         /* atomic */
        BlobAttachment *attachment; /* atomic; freed with the blob */
        size_t len;
        char data[]; /* NUL-terminated; the NUL is not counted in len */
} Blob;

/* Copies n bytes into a new blob with one reference. NULL on allocation failure. */
Blob *blob_new(const void *data, size_t n);
Blob *blob_ref(Blob *b);
/* Drops one reference; frees on the last. Returns NULL. NULL is fine. */
Blob *blob_unref(Blob *b);

/* Attaches a to b unless something is attached already (the first caller wins). Returns what is
 * attached now: a, or the earlier attachment, in which case the caller still owns a. */
BlobAttachment *blob_attach(Blob *b, BlobAttachment *a);
static inline BlobAttachment *blob_attachment(Blob *b)
{
        return __atomic_load_n(&b->attachment, __ATOMIC_ACQUIRE);
}

static inline void blob_unrefp(Blob **b)
{
        if (*b)
                blob_unref(*b);
}
#define _cleanup_blob_ __attribute__((cleanup(blob_unrefp)))

/* siphash13.h — SipHash-1-3 (one compression round, three finalization rounds), the variant
 * Rust's std hasher uses and hence the one fedora-coreos-cincinnati derives wariness with. */
#pragma once

#include <stddef.h>
#include <stdint.h>

uint64_t siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* test-util.h — helpers several unit test files share (linked into every unit test): reading the shared
 * test data beside the checkout, and capturing what a function writes to stderr. They fail the running
 * cmocka test on any error. */
#pragma once

#include <stddef.h>

/* The file at ../shared/REL (or $UPKEEP_SHARED/REL), read whole; *ret_len gets its size. */
char *test_read_shared(const char *rel, size_t *ret_len);
/* Runs fn with stderr redirected to a temporary file and returns what it wrote (free() it). */
char *test_capture_stderr(void (*fn)(void));

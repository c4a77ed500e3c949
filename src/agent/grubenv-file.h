/* grubenv-file.h — GRUB's environment block read from and written to its file. Writing replaces the file
 * atomically (a temporary file in the same directory, fsync, rename, fsync of the directory) and keeps it
 * exactly GRUBENV_SIZE bytes, since GRUB itself rewrites the block in place; a symbolic link (a grubenv on
 * the EFI partition) is followed and its target replaced, and the file keeps its mode (0644 when new). */
#pragma once

#include "error.h"
#include "grubenv.h"

/* Reads and parses the block at path into *ret (written only on success). -ENOENT when the file does not
 * exist; -EINVAL (not a valid block), -EFBIG (over GRUBENV_SIZE bytes) or another -errno, with e starting
 * with the path. */
int grubenv_load(const char *path, GrubEnv *ret, Error *e);
/* Formats env and replaces the file at path with it. -ENOSPC when the variables do not fit; on any failure
 * the file is untouched, no temporary file is left and e starts with the path. */
int grubenv_save(const char *path, const GrubEnv *env, Error *e);

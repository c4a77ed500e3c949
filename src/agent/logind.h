/* logind.h — what upkeep-agent asks of the host around a reboot: systemd-logind over sd-bus (reboot, the
 * interactive sessions and their terminals), a warning written to those terminals, and running a
 * configured command (the reboot method for containers, tests and the demo). */
#pragma once

#include <stddef.h>

#include "error.h"

#define LOGIND_MAX_SESSIONS 256
#define COMMAND_MAX_OUTPUT (64 * 1024) /* bytes of a command's output kept for error messages */

/* Asks logind to reboot now (org.freedesktop.login1.Manager.Reboot(false)). */
int logind_reboot(Error *e);

/* The interactive sessions: class "user" sessions with a terminal or a remote login. On success
 * *ret_ttys is a NULL-terminated list (possibly empty) of their terminal names as logind gives them
 * ("tty1", "pts/0"; remote sessions without one are left out) and *ret_n the number of sessions.
 * Errors (no system bus, no logind) are returned with e filled; the caller decides what they mean. */
int logind_interactive_sessions(char ***ret_ttys, size_t *ret_n, Error *e);

/* Writes msg to each terminal /dev/<tty> (names validated: "ttyN", "pts/N", "consoleN", ...; no "..")
 * without blocking and without becoming its controlling terminal. Returns how many were written. */
int tty_broadcast(char *const *ttys, const char *msg);

/* Runs argv (argv[0] an absolute path; no shell) with stdin from /dev/null and stdout+stderr captured
 * (the last COMMAND_MAX_OUTPUT bytes). Waits at most timeout_sec, then kills it (-ETIMEDOUT). A non-zero
 * exit or a signal is -EIO with e naming the command, the status and the output's last line.
 * ret_output (may be NULL) receives the captured output on success. */
int run_command(char *const *argv, unsigned timeout_sec, char **ret_output, Error *e);

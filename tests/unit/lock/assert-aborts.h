/* assert-aborts.h — death tests for the unit tests of src/lock: a NULL where a function's contract forbids
 * it is a programmer error, and the function must abort (assert()). Include after cmocka.h. */
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs stmt in a child process, without a core dump or the assertion's message, and checks that it
 * aborted. */
#ifdef NDEBUG
#define assert_aborts(stmt) skip()
#else
#define assert_aborts(stmt)                                                                                 \
        do {                                                                                                \
                pid_t pid_ = fork();                                                                        \
                int status_;                                                                                \
                assert_true(pid_ >= 0);                                                                     \
                if (pid_ == 0) {                                                                            \
                        int null_ = open("/dev/null", O_WRONLY | O_CLOEXEC);                                \
                        setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });                                   \
                        if (null_ >= 0)                                                                     \
                                dup2(null_, STDERR_FILENO);                                                 \
                        stmt;                                                                               \
                        _exit(0);                                                                           \
                }                                                                                           \
                assert_int_equal(waitpid(pid_, &status_, 0), pid_);                                         \
                assert_true(WIFSIGNALED(status_));                                                          \
                assert_int_equal(WTERMSIG(status_), SIGABRT);                                               \
        } while (0)
#endif

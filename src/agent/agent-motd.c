/* agent-motd.c — the dead-end and health messages of the day (agent-motd.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-motd.h"
#include "agent-target.h"
#include "buf.h"
#include "fileio.h"

void agent_motd_init(AgentMotd *m, const char *dir)
{
        assert(m);
        assert(dir);
        *m = (AgentMotd){ .dir = dir, .state = -1 };
}

int agent_motd_update(AgentMotd *m, bool deadend, const char *reason, Error *e)
{
        char path[PATH_MAX];
        Buf text = BUF_INIT(4096);
        int r;

        assert(m);
        snprintf(path, sizeof path, "%s/%s", m->dir, AGENT_MOTD_FILE);
        if (!deadend) {
                if (m->state == 0)
                        return 0;
                m->state = 0;
                if (unlink(path) < 0 && errno != ENOENT)
                        return error_setf(e, -errno, "removing %s: %m", path);
                return 0;
        }
        m->state = 1;
        r = agent_deadend_motd(reason ? reason : "", &text);
        if (r < 0) {
                buf_free(&text);
                return error_setf(e, r, "the dead-end message: %m");
        }
        (void)mkdir(m->dir, 0755);
        r = write_file_atomic(path, text.data, text.len, 0644, e);
        buf_free(&text);
        return r;
}

int agent_motd_set(const char *dir, const char *file, const char *text, Error *e)
{
        char path[PATH_MAX];

        assert(dir);
        assert(file);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!text) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return error_setf(e, -errno, "removing %s: %m", path);
                return 0;
        }
        (void)mkdir(dir, 0755);
        return write_file_atomic(path, text, strlen(text), 0644, e);
}

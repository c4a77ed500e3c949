/* upkeep.c — the Upkeep command line for operators and release engineers.
 *
 *   upkeep graph build --releases R --updates U --basearch A [--stream S] [--wariness W] [--now EPOCH]
 *                      [--oci] [--format json|text|dot]
 *   upkeep graph query URL --stream S --basearch A [--wariness W] [--node-uuid U] [--oci]
 *                      [--format json|text|dot]
 *   upkeep lock status|release|pause|resume ... [--url URL] [--token-file PATH] [--json]
 *   upkeep status [--socket PATH] [--json]
 *   upkeep update-now [--allow VERSION] [--socket PATH] [--json]
 *   upkeep forget-release VERSION|CHECKSUM [--socket PATH] [--json]
 *   upkeep release add|barrier|deadend|pause|resume|clean|validate|plan ... (--updates FILE | --stream S)
 */

#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "daemon-util.h"
#include "log.h"

static void usage(FILE *f)
{
        fprintf(f,
                "upkeep — auto-updates for fleets of image-based Linux hosts\n\n"
                "commands:\n"
                "  graph build     print the update graph built from a release index and update metadata\n"
                "  graph query     print the update graph a running server answers\n"
                "  lock status     upkeep-lock's groups: slots, holders and their ages, windows, pause\n"
                "  lock release    force-release a holder's slot\n"
                "  lock pause      stop granting slots in a group\n"
                "  lock resume     grant slots in a paused group again\n"
                "  status          what this node's upkeep-agent is doing\n"
                "  update-now      make this node's upkeep-agent check for an update now\n"
                "  forget-release  remove a release from the agent's record of bad releases\n"
                "  release         edit, check and plan rollouts in updates/<stream>.json\n"
                "  --version       print the version\n\n"
                "'upkeep graph --help', 'upkeep lock --help' and 'upkeep release --help' for the "
                "options.\n");
}

int main(int argc, char **argv)
{
        int r;

        daemon_seed_hash_keys();
        log_set_prefix(0);
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("upkeep %s\n", UPKEEP_VERSION);
                return 0;
        }
        if (streq(argv[1], "graph")) {
                if (argc < 3 || streq(argv[2], "--help") || streq(argv[2], "-h")) {
                        graph_usage(argc < 3 ? stderr : stdout);
                        return argc < 3 ? 2 : 0;
                }
                if (streq(argv[2], "build"))
                        r = graph_build_cmd(argc - 2, argv + 2);
                else if (streq(argv[2], "query"))
                        r = graph_query_cmd(argc - 2, argv + 2);
                else {
                        graph_usage(stderr);
                        return 2;
                }
                return r < 0 ? 1 : 0;
        }
        if (streq(argv[1], "release"))
                return release_cmd(argc - 1, argv + 1);
        if (streq(argv[1], "lock"))
                return lock_cmd(argc - 1, argv + 1) < 0 ? 1 : 0;
        if (streq(argv[1], "status") || streq(argv[1], "update-now") || streq(argv[1], "forget-release"))
                return agent_cmd(argc - 1, argv + 1) < 0 ? 1 : 0;
        log_error("unknown command '%s'", argv[1]);
        usage(stderr);
        return 2;
}

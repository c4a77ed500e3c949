/* sim-fleet.c — the fleet simulator's node identities, fates, jitter and holder counts (see sim-fleet.h). */
#include <errno.h>
#include <string.h>

#include "sim-fleet.h"
#include "siphash13.h"

#define SIM_FATE_K0 UINT64_C(0x75706b6565702d73)
#define SIM_FATE_K1 UINT64_C(0x696d2d6661746573)

int sim_node_uuid(uint64_t seed, uint32_t i, char *out)
{
        if (!out || i >= SIM_NODES_MAX)
                return -EINVAL;
        uint64_t hi = siphash13(seed, UINT64_C(1), &i, sizeof i);
        uint32_t mid = (uint32_t)siphash13(seed, UINT64_C(2), &i, sizeof i);
        /* 16 + 8 hashed digits, then the index itself (8 digits): distinct for distinct indices */
        static const char hex[] = "0123456789abcdef";
        uint64_t parts[3] = { hi, mid, i };
        const unsigned digits[3] = { 16, 8, 8 };
        size_t o = 0;
        for (size_t p = 0; p < 3; p++)
                for (unsigned d = digits[p]; d-- > 0;)
                        out[o++] = hex[(parts[p] >> (4 * d)) & 0xf];
        out[o] = '\0';
        return 0;
}

int sim_node_fails(const char *uuid, unsigned fail_permille)
{
        if (!uuid || strlen(uuid) != SIM_UUID_LEN || fail_permille > 1000)
                return -EINVAL;
        uint64_t h = siphash13(SIM_FATE_K0, SIM_FATE_K1, uuid, SIM_UUID_LEN);
        return h % 1000 < fail_permille ? 1 : 0;
}

double sim_rand01(uint64_t *state)
{
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        z ^= z >> 31;
        return (double)(z >> 11) / (double)(UINT64_C(1) << 53);
}

int sim_holders_init(SimHolders *h, size_t n_groups, unsigned slots)
{
        if (!h || n_groups == 0 || n_groups > SIM_GROUPS_MAX || slots == 0)
                return -EINVAL;
        memset(h, 0, sizeof *h);
        h->n_groups = n_groups;
        h->slots = slots;
        return 0;
}

int sim_holders_take(SimHolders *h, size_t group)
{
        if (!h || group >= h->n_groups)
                return -EINVAL;
        h->held[group]++;
        if (h->held[group] > h->most[group])
                h->most[group] = h->held[group];
        if (h->held[group] > h->slots) {
                h->violations++;
                return 1;
        }
        return 0;
}

int sim_holders_release(SimHolders *h, size_t group)
{
        if (!h || group >= h->n_groups || h->held[group] == 0)
                return -EINVAL;
        h->held[group]--;
        return 0;
}

unsigned sim_holders_most(const SimHolders *h)
{
        unsigned most = 0;
        for (size_t g = 0; h && g < h->n_groups; g++)
                if (h->most[g] > most)
                        most = h->most[g];
        return most;
}

bool sim_in_window(int64_t since_usec, int64_t window_usec, int64_t period_usec)
{
        if (window_usec <= 0 || period_usec <= 0 || window_usec >= period_usec)
                return true;
        if (since_usec < 0)
                since_usec = 0;
        return since_usec % period_usec < window_usec;
}

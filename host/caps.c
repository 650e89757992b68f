/*
 * host/caps.c — the system's capabilities (placeholder until the
 * capabilities work lands: no capability is known, nothing is refused).
 */
#include "host/rt.h"

int
thi_caps_init(struct th_system *sys, const char *caps_json, th_diag_t *d)
{
    (void)sys, (void)caps_json, (void)d;
    return 0;
}

void
thi_caps_fini(struct th_system *sys)
{
    (void)sys;
}

int
thi_caps_admit(struct th_system *sys, const thi_class_t *cls,
               const char *requirements, th_diag_t *d)
{
    (void)sys, (void)cls;
    if (requirements)
        return thi_diag_set(d, TH_ENOCOMPAT, "requirements: not supported");
    return 0;
}

int
thi_caps_update(struct th_system *sys, const char *name,
                const char *value_json, th_diag_t *d)
{
    (void)sys, (void)name, (void)value_json;
    return thi_diag_set(d, TH_EINVAL, "capabilities: not supported");
}

int
thi_caps_json(struct th_system *sys, char **out)
{
    (void)sys;
    *out = NULL;
    return TH_EINVAL;
}

int
thi_caps_slot_take(thi_slot_t *slot, thi_start_extra_t *x)
{
    (void)slot, (void)x;
    return 0;
}

void
thi_caps_slot_fini(thi_slot_t *slot)
{
    (void)slot;
}

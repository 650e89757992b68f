/*
 * host/supervise.c — supervision strategies (placeholder until that work
 * lands).
 */
#include "host/rt.h"

int
thi_sup_copy(const th_supervision_t *in, th_supervision_t **out,
             th_diag_t *d)
{
    (void)in;
    *out = NULL;
    return thi_diag_set(d, TH_EINVAL, "supervision: not supported");
}

int
thi_sup_set(th_ctx_t *ctx, const th_supervision_t *sup)
{
    (void)ctx, (void)sup;
    return TH_EINVAL;
}

void
thi_sup_failed(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
               const char *why)
{
    (void)ctx, (void)slot, (void)env, (void)why;
}

void
thi_sup_park(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx, (void)slot;
}

int
thi_sup_inherit(thi_slot_t *parent, thi_start_extra_t *x)
{
    (void)parent, (void)x;
    return 0;
}

int
thi_sup_slot_take(thi_slot_t *slot, thi_start_extra_t *x)
{
    (void)slot, (void)x;
    return 0;
}

void
thi_sup_slot_fini(thi_slot_t *slot)
{
    (void)slot;
}

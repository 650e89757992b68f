/*
 * host/troupe.c — troupes and transient actors (placeholder until that
 * work lands).
 */
#include "host/rt.h"

int
thi_troupe_start(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx, (void)slot;
    return 0;
}

bool
thi_troupe_route(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    (void)ctx, (void)slot, (void)env;
    return false;
}

void
thi_troupe_after(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx, (void)slot;
}

int
thi_troupe_wip(th_ctx_t *ctx, bool on)
{
    (void)ctx, (void)on;
    return TH_EINVAL;
}

void
thi_troupe_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx, (void)slot;
}

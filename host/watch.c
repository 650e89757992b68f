/*
 * host/watch.c — fd watches (placeholder until the watch work lands).
 */
#include "host/rt.h"

int
thi_watch_init(struct th_system *sys)
{
    (void)sys;
    return 0;
}

void
thi_watch_fini(struct th_system *sys)
{
    (void)sys;
}

int
thi_watch_set(th_ctx_t *ctx, const int *fds, size_t n)
{
    (void)ctx, (void)fds, (void)n;
    return TH_EINVAL;
}

void
thi_watch_after(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx, (void)slot;
}

void
thi_watch_slot_fini(struct th_system *sys, thi_slot_t *slot)
{
    (void)sys, (void)slot;
}

int
thi_watch_poll(struct th_system *sys, int timeout_ms)
{
    (void)sys, (void)timeout_ms;
    return 0;
}

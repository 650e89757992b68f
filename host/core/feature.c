/*
 * host/core/feature.c — the system side of the feature table
 * (core/feature.h): init and fini over every feature, and per-actor
 * feature state in the slot's extension.
 */
#include <stdlib.h>

#include "host/core/runtime.h"
#include "host/core/feature.h"
#include "host/core/core_int.h"

int
thi_features_init(struct th_system *sys, th_diag_t *d)
{
    unsigned i;
    int rc = 0;
    for (i = 0; i < thi_n_features && rc == 0; i++)
        if (thi_features[i]->sys_init)
            rc = thi_features[i]->sys_init(sys, d);
    if (rc != 0) {
        /* the one that failed undid itself; the ones before it are undone
         * in reverse */
        for (unsigned j = i - 1; j-- > 0;)
            if (thi_features[j]->sys_fini)
                thi_features[j]->sys_fini(sys);
    }
    return rc;
}

void
thi_features_fini(struct th_system *sys)
{
    for (unsigned i = thi_n_features; i-- > 0;)
        if (thi_features[i]->sys_fini)
            thi_features[i]->sys_fini(sys);
}

uint32_t
thi_class_features_compute(const thi_class_t *cls)
{
    uint32_t m = THI_CLASS_FEATURES_KNOWN;
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->wants && thi_features[i]->wants(cls))
            m |= 1u << i;
    /* a cast for the memo alone: every thread stores the same value */
    atomic_store_explicit(&((thi_class_t *)cls)->features, m,
                          memory_order_relaxed);
    return m;
}

int
thi_slot_feat_set(thi_slot_t *slot, unsigned id, void *state)
{
    if (slot->ext == NULL) {
        if (state == NULL)
            return 0;
        if ((slot->ext = calloc(1, sizeof *slot->ext)) == NULL)
            return TH_ENOMEM;
    }
    slot->ext->feat[id] = state;
    return 0;
}

/* Out of line: the callback path only tests whether to call it. */
__attribute__((noinline, cold)) void
thi_features_after_callback_run(th_ctx_t *ctx, thi_slot_t *slot)
{
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->after_callback)
            thi_features[i]->after_callback(ctx, slot);
}

/*
 * host/core/provider.h — where classes come from, as the core sees it: the
 * one table the core calls to resolve a class by name, hold and release the
 * source a class runs from, and hand on the system actor's source messages.
 * The core names nothing else of the provider; host/sources/sources.c
 * defines the table (a link-time edge, like thi_features[] of feature.h),
 * and keeps its own per-system state behind th_system's opaque `src`.
 * Thread-safety: as each entry says; the provider takes its own locks.
 */
#ifndef TH_HOST_CORE_PROVIDER_H
#define TH_HOST_CORE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "host/core/system.h"

typedef struct thi_class_provider {
    /* th_system_create, after the features: make the provider's state
     * (sys->src); on failure the core still calls fini. 0 or TH_E*. */
    int (*init)(struct th_system *sys);
    /* th_system_destroy, once no actor runs (also after a failed init):
     * everything the provider holds, classes included, then its state. */
    void (*fini)(struct th_system *sys);
    /* PLUGIN.CLASS, preferring the named source (hash prefix, may be NULL)
     * else `own` (the creating actor's source, may be NULL). A class from a
     * source comes back with that source held: release it with put when
     * the actor ends or its creation fails. Any thread. */
    int (*resolve)(struct th_system *sys, const char *qname,
                   const thi_source_t *own, const char *hash_prefix,
                   const thi_class_t **out, th_diag_t *d);
    /* Release one hold of a (non-NULL) source; any thread, not under
     * classes_lock. */
    void (*put)(struct th_system *sys, thi_source_t *src);
    /* A source's hash, for status (classes_lock held). */
    const char *(*hash)(const thi_source_t *src);
    /* Sources mapped now, unloading ones still mapped too (status). */
    size_t (*count)(struct th_system *sys);
    /* On the system actor: THI_ENV_UNMAP's source (queued by put), and the
     * user messages ValidatedSource and ActivatedSource (env not taken). */
    void (*unmap)(struct th_system *sys, thi_source_t *src);
    void (*validated)(struct th_system *sys, thi_env_t *env);
    void (*activated)(struct th_system *sys, thi_env_t *env);
} thi_class_provider_t;

/* The provider (host/sources/sources.c). */
extern const thi_class_provider_t thi_class_provider;

/* A class's source released: nothing to do for a class of a plugin loaded
 * by path (no source). */
static inline void
thi_class_put_source(struct th_system *sys, const thi_class_t *cls)
{
    if (cls->source)
        thi_class_provider.put(sys, cls->source);
}

#endif /* TH_HOST_CORE_PROVIDER_H */

/*
 * host/core/class.h — a loaded class as the runtime runs it (filled in by
 * the class provider, core/provider.h), and the opaque loaded source it
 * comes from.
 */
#ifndef TH_HOST_CORE_CLASS_H
#define TH_HOST_CORE_CLASS_H

#include <stdatomic.h>
#include <stdint.h>

#include "host/core/msg.h"
#include "thespian/actor.h"


typedef struct thi_class {
    char qname[2 * TH_NAME_MAX + 2];   /* PLUGIN.CLASS */
    const th_class_t *c;               /* plugin's class, read per its size */
    size_t state_size;
    th_init_fn init;
    th_receive_fn receive;
    th_teardown_fn teardown;
    th_export_fn export_state;
    th_import_fn import_state;
    uint32_t n_dispatch;
    const th_dispatch_t *dispatch;
    const thi_type_t **dispatch_types; /* interned; NULL entry = "*" */
    /* 1.1 (zero for an older plugin) */
    uint32_t flags;                    /* TH_CLASS_* */
    uint32_t n_requires;
    const th_requirement_t *requires;
    th_capcheck_fn capability_check;
    uint32_t troupe_max, troupe_idle;
    uint32_t transient_ms;             /* resolved: never 0 */
    struct thi_source *source;         /* NULL: a plugin loaded by path */
    /* Memo of thi_class_features (core/feature.h): 0 until first asked;
     * then THI_CLASS_FEATURES_KNOWN | a bit per feature whose `wants`
     * holds for this class. The only field written after the class is
     * built (by any thread, always the same value). */
    _Atomic uint32_t features;
    struct thi_class *next;            /* registry chain */
} thi_class_t;

/* A loaded source: one verified bundle, its own unpack directory and its
 * own link-map namespace. Its code stays mapped while any actor of its
 * classes lives (`live`, guarded by the system's classes_lock). */
typedef struct thi_source thi_source_t;

#endif /* TH_HOST_CORE_CLASS_H */

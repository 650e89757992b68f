/*
 * host/sources/internal.h — what the files of host/sources/ share and no
 * other component sees: the source and pending-load records and the steps
 * one file takes for another. The subsystem's face to the rest of the
 * runtime is sources.h.
 *
 * The files, in the order a load goes through them:
 *   keys.c      the trusted keyring (read, reload, listed)
 *   request.c   a load asked for: our own copy verified against the
 *               keyring, then ValidateSource to the Source Authority (or
 *               the system's own word) and its answer, ValidatedSource
 *   load.c      prepared (archive, platform, ELF policy, sealed code) and,
 *               after every yes, committed (version record and group
 *               checks, mapping, classes registered, source listed)
 *   map.c       the code of a source: sealed memfds dlopened in dependency
 *               order, no soname already loaded; closing them again
 *   versions.c  the version record (rollback protection) and its writer
 *   table.c     the listed sources: lookup by hash, holds, listing
 *   unload.c    a hold's release, unloading and, once the last actor is
 *               gone, unmapping; what is left at destroy
 *   watchers.c  watchers told of sources loaded and unloaded
 *   sources.c   the subsystem's start and end (state directory)
 *   registry.c  the classes a system can create, and their plugins
 *
 * Locks: sys->classes_lock (the core's: it guards slot->cls) guards the
 * table, the pending list, the holds, the version record in memory, the
 * authority, the Director and the watchers; SRC(sys)->keys_lock the
 * keyring; SRC(sys)->load_lock the commits of loads, one at a time (an
 * outside load commits on its caller's thread, an actor's on the system
 * actor); map.c's own lock the process's dynamic linker state across
 * systems. Unmaps run on the system actor.
 */
#ifndef TH_HOST_SOURCES_INTERNAL_H
#define TH_HOST_SOURCES_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "host/core/runtime.h"
#include "host/sources/sources.h"
#include "loader/bundle.h"
#include "loader/plugin.h"

/* The subsystem's state for one system, made by thi_sources_init and
 * reached as SRC(sys) (th_system holds only the pointer, see
 * host/core/provider.h). Locks as the top of this file says. */
struct thi_sources {
    thi_class_t *classes[256];
    struct thi_plugin_rec *plugins;
    thi_source_t *sources;
    struct thi_pending_load *pending;  /* loads waiting for the authority */
    th_addr_t authority;               /* registered Source Authority */
    char authority_class[2 * TH_NAME_MAX + 2]; /* the one class that may
                                          register as authority; "" none */
    /* trusted keys (keys.c): swapped whole by a reload under the write
     * lock; every verification holds the read lock */
    pthread_rwlock_t keys_lock;
    struct thi_keyring *keyring;       /* NULL: no key directory */
    char key_dir[4096];                /* "" when none */
    th_addr_t director;                /* registered Director, or null */
    thi_notify_t src_watchers;         /* told of sources (watchers.c) */
    struct json_t *versions;           /* group -> highest accepted version */
    bool versions_bad;                 /* record unreadable: refuse loads */
    struct thi_versions_writer *versions_writer; /* writes it (versions.c) */
    char state_dir[4096];
    bool own_state_dir;                /* made by us, removed at destroy */
    pthread_mutex_t load_lock;         /* one commit at a time (load.c) */
};
#define SRC(sys) ((sys)->src)

struct thi_source {
    struct thi_source *next;
    char hash[65];
    char *group, *version, *info;
    json_t *tli;                 /* the signed TLI, or NULL */
    char key[256];
    void **handles;              /* in load order; closed in reverse */
    int *fds;                    /* the sealed memfd of each handle: kept
                                    open while mapped, so its name
                                    /proc/self/fd/N names only this object */
    size_t n_handles;
    thi_plugin_t **plugins;      /* descriptors checked; handles above */
    size_t n_plugins;
    long live;                   /* actors of its classes (classes_lock) */
    bool unloading, unmap_queued;
};

typedef struct thi_pending_load {
    struct thi_pending_load *next;
    char hash[65];
    thi_payload_t *bytes;        /* ValidateSource's payload: the source
                                    hash line, then the exact bytes verified
                                    and unpacked (thi_pending_bundle) */
    bool allow_rollback;
    size_t signed_len;           /* from the keyring's verification */
    char key[256];               /* the trusted key that verified it */
    bool direct;                 /* no authority: the system vouches */
    th_addr_t requester;         /* actor to tell, or null (outside) */
    th_diag_t diag;              /* why the authority refused */
    bool abandoned;              /* the outside waiter gave up */
    int verdict;                 /* an outside load's: 1 yes, -1 no (diag
                                    says why), 0 not yet (state_lock) */
    bool processing;             /* decided (classes_lock): it stays listed
                                    so a second load of the same bytes sees
                                    it until the source itself is listed */
} thi_pending_t;

/* The bundle's bytes inside a pending load's payload, after the hash
 * line the authority reads (TH_VALIDATE_SOURCE_HEADER, actor.h). */
static inline const uint8_t *
thi_pending_bundle(const thi_pending_t *p)
{
    return p->bytes->data + TH_VALIDATE_SOURCE_HEADER;
}

/* request.c: free every pending load (destroy). */
void thi_pending_fini(struct th_system *sys);

/* keys.c: read the key directory and the authority class from the options
 * (create); free the keyring (destroy). */
int thi_keys_init(struct th_system *sys);
void thi_keys_fini(struct th_system *sys);

/* load.c: a load in two halves. thi_source_prepare does what needs no
 * yes beyond the keyring's and runs no code of the bundle: the archive
 * read against its signed manifest, the platform and ELF checks, the code
 * written into sealed memfds; an outside load does it on its own thread
 * while the Source Authority decides. thi_source_commit, after every yes,
 * consults the version record and the group's other versions, maps the
 * code, registers the classes and lists the source; loads commit one at a
 * time (SRC(sys)->load_lock). On failure nothing remains. *record_out:
 * the version record rose, for the caller to save once it answered. */
typedef struct thi_prepared {
    thi_bundle_t *b;
    thi_source_t *s;             /* its record; code not mapped yet */
    int *fds;                    /* sealed memfds by file, -1 none */
    char what[80];
} thi_prepared_t;
int thi_source_prepare(thi_prepared_t *out, const thi_pending_t *p,
                       th_diag_t *d);
int thi_source_commit(struct th_system *sys, thi_pending_t *p,
                      thi_prepared_t *prep, bool *record_out, th_diag_t *d);
/* What commit did not take (NULL fields: nothing); safe on a zeroed one. */
void thi_prepared_free(thi_prepared_t *prep);

/* map.c: every code file of `b` written once into a sealed memfd
 * (*fds_out, by file index, -1 for data); nothing mapped. */
int thi_source_seal(const thi_source_t *s, const thi_bundle_t *b,
                    int **fds_out, th_diag_t *d);
/* Close the memfds still open in `fds` (n entries) and free it. */
void thi_source_fds_close(int *fds, size_t n);
/* Map the sealed code (`fds`, taken: those not kept are closed) of
 * verified bundle `b` into `s` (handles, fds, plugins), private libraries
 * in dependency order, then the plugins, each checked against its
 * manifest entry. Refuses a private soname that names an object already
 * loaded in the process. Serialised across every system of the process.
 * On failure what was mapped stays in `s` for thi_source_free. */
int thi_source_map(thi_source_t *s, const thi_bundle_t *b, int *fds,
                   const char *what, th_diag_t *d);
/* Close what thi_source_map opened: plugins, handles in reverse, memfds
 * (kept open for an object the dynamic linker would not unmap). */
void thi_source_unmap_code(thi_source_t *s);

/* table.c */
/* A source's record and code gone (NULL: nothing). */
void thi_source_free(thi_source_t *s);
/* The listed source with exactly this hash, unloading or not, or NULL
 * (classes_lock held). */
thi_source_t *thi_source_by_hash_locked(struct th_system *sys,
                                        const char *hash);

/* unload.c: have the system actor unmap `src` (never under an actor
 * whose callback frames might still be on this stack). */
void thi_source_queue_unmap(struct th_system *sys, thi_source_t *src);
/* Destroy: free every source no actor runs; of the others only the record
 * (their code may still run). */
void thi_sources_table_fini(struct th_system *sys);

/* versions.c: read the record and start its writer (create). */
void thi_versions_load(struct th_system *sys);
/* The group's highest accepted version, or NULL (classes_lock held). */
const char *thi_versions_best_locked(struct th_system *sys,
                                     const char *group);
/* Raise the group's record to `version` if it is higher (classes_lock
 * held). True when it moved: the caller then calls thi_versions_save. */
bool thi_versions_raise_locked(struct th_system *sys, const char *group,
                               const char *version);
/* Have the record written (by the writer, off the caller's path). Any
 * thread. */
void thi_versions_save(struct th_system *sys);
/* Destroy: the last rise reaches the disk; then the record is freed. */
void thi_versions_fini(struct th_system *sys);

/* watchers.c: tell every watcher `type` (LoadedSource, UnloadedSource) of
 * `s`. Takes classes_lock; call without it. */
void thi_source_notify_watchers(struct th_system *sys, const thi_source_t *s,
                                const char *type);

#endif /* TH_HOST_SOURCES_INTERNAL_H */

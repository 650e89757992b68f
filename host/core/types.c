/*
 * host/core/types.c — message types. Type names are interned once per
 * process so a message carries a pointer, and the runtime's types that
 * actors may not send (from the one list, proto/wire.c's table of
 * actor.h's TH_MSG_RUNTIME_TYPES) are flagged at interning time. The
 * table is shared and never shrinks, so only names the host's own code
 * brings are added (built-ins, dispatch tables, actor sends up to a
 * quota); a name from outside that none of them knows travels inside its
 * message and goes with it.
 */
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "proto/wire.h"

/* ---- Type interning ---------------------------------------------------------- */

#define INTERN_CAP (1u << 17)        /* slots; at most half used */
#define INTERN_MAX THI_TYPES_MAX
_Static_assert(THI_TYPES_MAX <= INTERN_CAP / 2, "open addressing load");
_Static_assert(THI_TYPES_SENT_MAX < THI_TYPES_MAX, "room for classes");

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const thi_type_t *) *intern_tab;
static unsigned intern_n;    /* under intern_lock */
static unsigned intern_sent; /* of them added by actor sends */

typedef struct intern_cache_ent {
    const char *key;
    const thi_type_t *type;
} intern_cache_ent_t;
static _Thread_local intern_cache_ent_t tls_intern[64];

static uint32_t
name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* `sent`: an actor's send adds it, within THI_TYPES_SENT_MAX; past the
 * quota *out is NULL and 0 is returned (the message carries the name). */
static int
intern_locked(const thi_type_t **out, const char *name, uint32_t flags,
              bool sent)
{
    uint32_t h = name_hash(name);
    for (uint32_t i = h & (INTERN_CAP - 1);;
         i = (i + 1) & (INTERN_CAP - 1)) {
        const thi_type_t *t =
            atomic_load_explicit(&intern_tab[i], memory_order_relaxed);
        if (t == NULL) {
            if (sent && (intern_sent >= THI_TYPES_SENT_MAX ||
                         intern_n >= INTERN_MAX)) {
                *out = NULL;
                return 0;
            }
            if (intern_n >= INTERN_MAX)
                return TH_ELIMIT;
            thi_type_t *nt = malloc(sizeof *nt);
            char *copy = strdup(name);
            if (nt == NULL || copy == NULL) {
                free(nt);
                free(copy);
                return TH_ENOMEM;
            }
            nt->name = copy;
            nt->flags = flags;
            nt->hash = h;
            /* release: readers probing without the lock see a whole entry */
            atomic_store_explicit(&intern_tab[i], nt, memory_order_release);
            intern_n++;
            intern_sent += sent;
            *out = nt;
            return 0;
        }
        if (t->hash == h && strcmp(t->name, name) == 0) {
            *out = t;
            return 0;
        }
    }
}

static void
intern_init(void)
{
    intern_tab = calloc(INTERN_CAP, sizeof *intern_tab);
    if (intern_tab == NULL)
        abort(); /* process start-up: nothing sensible to continue with */
    const thi_type_t *t;
    const char *name;
    unsigned senders;
    for (size_t i = 0; (name = thi_wire_runtime_type(i, &senders)); i++)
        if (!(senders & TH_MSG_BY_ACTORS))
            intern_locked(&t, name, THI_TYPE_RESERVED, false);
}

static pthread_once_t intern_once = PTHREAD_ONCE_INIT;

void
thi_types_init(void)
{
    pthread_once(&intern_once, intern_init);
}

/* Lock-free: entries are never removed or changed. */
static const thi_type_t *
probe(const char *name, uint32_t h)
{
    for (uint32_t i = h & (INTERN_CAP - 1);;
         i = (i + 1) & (INTERN_CAP - 1)) {
        const thi_type_t *t =
            atomic_load_explicit(&intern_tab[i], memory_order_acquire);
        if (t == NULL || (t->hash == h && strcmp(t->name, name) == 0))
            return t;
    }
}

enum { HOW_CLASS = 2 }; /* besides THI_TYPE_ACTOR and THI_TYPE_OUTSIDE */

/* A name the per-thread cache does not hold: validate, look up, intern
 * as `how` allows. Out of line so that the hit path of every send stays a
 * leaf. */
static __attribute__((noinline)) int
intern_miss(const thi_type_t **out, const char *name,
            intern_cache_ent_t *ce, unsigned how)
{
    if (!thi_wire_type_valid(name)) /* the rule outside programs meet too */
        return TH_EINVAL;
    const thi_type_t *t = probe(name, name_hash(name));
    if (t == NULL) {
        if (how == THI_TYPE_OUTSIDE) {
            *out = NULL; /* never added for outside: the message carries it */
            return 0;
        }
        pthread_mutex_lock(&intern_lock);
        int rc = intern_locked(&t, name, 0, how == THI_TYPE_ACTOR);
        pthread_mutex_unlock(&intern_lock);
        if (rc != 0)
            return rc;
        if (t == NULL) {
            *out = NULL; /* the actors' quota is used up */
            return 0;
        }
    }
    ce->key = name;
    ce->type = t;
    *out = t;
    return 0;
}

/* The hot path of every send: no once-check here, th_system_create ran
 * thi_types_init before any actor or caller can send. */
static inline int
type_get(const thi_type_t **out, const char *name, unsigned how)
{
    if (name == NULL)
        return TH_EINVAL;
    /* callers pass literals: the pointer is a good key; strcmp guards
     * against a reused buffer holding another name */
    intern_cache_ent_t *ce =
        &tls_intern[((uintptr_t)name >> 3) & 63];
    if (ce->key == name && ce->type && strcmp(ce->type->name, name) == 0) {
        *out = ce->type;
        return 0;
    }
    return intern_miss(out, name, ce, how);
}

int
thi_type_intern(const thi_type_t **out, const char *name)
{
    return type_get(out, name, HOW_CLASS);
}

int
thi_type_for_send(const thi_type_t **out, const char *name, unsigned origin)
{
    return type_get(out, name, origin);
}

int
thi_type_lookup(const thi_type_t **out, const char *name)
{
    if (name == NULL || !thi_wire_type_valid(name))
        return TH_ENOENT;
    const thi_type_t *t = probe(name, name_hash(name));
    if (t == NULL)
        return TH_ENOENT;
    *out = t;
    return 0;
}

const char *
thi_type_immortal(const char *name)
{
    const thi_type_t *t;
    if (name != NULL && thi_type_lookup(&t, name) == 0)
        return t->name;
    return "(a message type from outside)";
}

void
thi_types_count(unsigned *interned, unsigned *sent)
{
    pthread_mutex_lock(&intern_lock);
    *interned = intern_n;
    *sent = intern_sent;
    pthread_mutex_unlock(&intern_lock);
}

const thi_type_t *
thi_type_builtin(const char *name)
{
    const thi_type_t *t = NULL;
    if (thi_type_intern(&t, name) != 0)
        abort(); /* built-in names are valid by construction */
    return t;
}

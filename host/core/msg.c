/*
 * host/core/msg.c — message memory. Envelopes come from a per-thread free
 * list refilled from a shared depot in batches, so the hot path never
 * takes a lock or calls malloc. Payloads are refcounted and shared by
 * forwarded copies. Message types: host/core/types.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "host/core/runtime.h"
#include "base/base64.h"
#include "proto/wire.h"

/* ---- Envelope pool -------------------------------------------------------- */

#define POOL_LOCAL_MAX 512
#define POOL_BATCH 128

/* Envelopes are carved from cache-line-aligned slabs of POOL_BATCH and are
 * never freed (a pool envelope is immortal). One malloc per 128 envelopes
 * instead of one each took ~180 instructions off every envelope the pool
 * grows by, and without malloc's 16-byte header each envelope is exactly
 * two cache lines rather than straddling three: less memory to fault in
 * and to miss on when a mailbox is deep (sync_msgs_per_s fills one to
 * 1 M). */
_Static_assert(sizeof(thi_env_t) % 64 == 0, "envelopes fill whole lines");

typedef struct local_pool {
    thi_env_t *free;
    unsigned n;
    bool registered;
} local_pool_t;

/* The depot is a stack of chains of free envelopes. A chain's head, being
 * free, keeps the link to the next chain and its own length in its inline
 * bytes, so putting a chain never allocates and cannot fail. */
typedef struct chain_link {
    thi_env_t *next;
    unsigned n;
} chain_link_t;
_Static_assert(sizeof(chain_link_t) <= THI_ENV_INLINE, "chain link");

static _Thread_local local_pool_t tls_pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static thi_env_t *depot;        /* head of the first chain, or NULL */

static thi_env_t *
env_next(thi_env_t *e)
{
    return (thi_env_t *)atomic_load_explicit(&e->node.next,
                                             memory_order_relaxed);
}

static void
env_set_next(thi_env_t *e, thi_env_t *next)
{
    atomic_store_explicit(&e->node.next, next ? &next->node : NULL,
                          memory_order_relaxed);
}

static void
depot_put(thi_env_t *head, unsigned n)
{
    chain_link_t link = {NULL, n};
    pthread_mutex_lock(&depot_lock);
    link.next = depot;
    memcpy(head->in.bytes, &link, sizeof link);
    depot = head;
    pthread_mutex_unlock(&depot_lock);
}

static void
pool_thread_exit(void *arg)
{
    local_pool_t *lp = arg;
    if (lp->free)
        depot_put(lp->free, lp->n);
    lp->free = NULL;
    lp->n = 0;
}

static void
pool_once_init(void)
{
    pthread_key_create(&pool_key, pool_thread_exit);
}

static void
pool_refill(local_pool_t *lp)
{
    if (!lp->registered) {
        pthread_once(&pool_once, pool_once_init);
        pthread_setspecific(pool_key, lp);
        lp->registered = true;
    }
    pthread_mutex_lock(&depot_lock);
    thi_env_t *head = depot;
    if (head != NULL) {
        chain_link_t link;
        memcpy(&link, head->in.bytes, sizeof link);
        depot = link.next;
        pthread_mutex_unlock(&depot_lock);
        lp->free = head;
        lp->n = link.n;
        return;
    }
    pthread_mutex_unlock(&depot_lock);
    thi_env_t *slab = aligned_alloc(64, POOL_BATCH * sizeof *slab);
    if (slab == NULL)
        return;
    for (unsigned i = 0; i < POOL_BATCH; i++)
        env_set_next(&slab[i], i + 1 < POOL_BATCH ? &slab[i + 1] : NULL);
    lp->free = slab;
    lp->n = POOL_BATCH;
}

/* inlined into thi_env_new (every send); thi_env_alloc, having external
 * linkage in a -fPIC build, would not be */
static inline thi_env_t *
env_alloc(void)
{
    local_pool_t *lp = &tls_pool;
    if (lp->free == NULL)
        pool_refill(lp);
    thi_env_t *e = lp->free;
    if (e == NULL)
        return NULL;
    lp->free = env_next(e);
    lp->n--;
    return e;
}

thi_env_t *
thi_env_alloc(void)
{
    return env_alloc();
}

void
thi_payload_release(thi_payload_t *p)
{
    /* acq_rel: the last owner must see every other owner's reads done */
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        free(p);
}

void
thi_env_free(thi_env_t *env)
{
    if (env == NULL)
        return;
    if (env->ext)
        thi_payload_release(env->ext);
    local_pool_t *lp = &tls_pool;
    if (!lp->registered) {
        pthread_once(&pool_once, pool_once_init);
        pthread_setspecific(pool_key, lp);
        lp->registered = true;
    }
    if (lp->n >= POOL_LOCAL_MAX) {
        /* hand a batch to the depot so producer threads can reuse it */
        thi_env_t *head = lp->free, *e = head;
        for (unsigned i = 1; i < POOL_BATCH; i++)
            e = env_next(e);
        lp->free = env_next(e);
        atomic_store_explicit(&e->node.next, NULL, memory_order_relaxed);
        lp->n -= POOL_BATCH;
        depot_put(head, POOL_BATCH);
    }
    env_set_next(env, lp->free);
    lp->free = env;
    lp->n++;
}

static void
env_reset(thi_env_t *e, const thi_type_t *type)
{
    atomic_store_explicit(&e->node.next, NULL, memory_order_relaxed);
    e->msg.type = type->name;
    e->msg.data = e->in.bytes;
    e->msg.len = 0;
    memset(&e->msg.sender, 0, sizeof e->msg.sender);
    e->target_nonce = 0;
    e->ext = NULL;
    e->kind = THI_ENV_USER;
    e->system = 0;
    e->reserved0 = 0;
    e->type_owned = 0;
    e->reserved2 = 0;
    e->reserved1 = 0;
}

int
thi_payload_alloc(thi_payload_t **out, size_t len)
{
    thi_payload_t *p = malloc(sizeof *p + (len ? len : 1));
    if (p == NULL)
        return TH_ENOMEM;
    atomic_init(&p->refs, 1);
    p->reserved0 = 0;
    p->len = len;
    *out = p;
    return 0;
}

int
thi_env_new(thi_env_t **out, const thi_type_t *type, const void *data,
            size_t len)
{
    thi_env_t *e = env_alloc();
    if (e == NULL)
        return TH_ENOMEM;
    env_reset(e, type);
    if (len <= THI_ENV_INLINE) {
        if (len)
            memcpy(e->in.bytes, data, len);
    } else {
        if (thi_payload_alloc(&e->ext, len) != 0) {
            e->ext = NULL;
            thi_env_free(e);
            return TH_ENOMEM;
        }
        memcpy(e->ext->data, data, len);
        e->msg.data = e->ext->data;
    }
    e->msg.len = len;
    *out = e;
    return 0;
}

int
thi_env_from_payload(thi_env_t **out, const thi_type_t *type,
                     thi_payload_t *p)
{
    thi_env_t *e = thi_env_alloc();
    if (e == NULL)
        return TH_ENOMEM;
    env_reset(e, type);
    e->ext = p; /* taken */
    e->msg.data = p->data;
    e->msg.len = p->len;
    *out = e;
    return 0;
}

int
thi_env_share(thi_env_t **out, const thi_type_t *type, const thi_env_t *src)
{
    if (type == NULL && !src->type_owned) {
        /* src's type is interned: find its entry (always there) */
        if (thi_type_lookup(&type, src->msg.type) != 0)
            return TH_EINVAL;
    }
    if (src->ext == NULL)
        return thi_env_new(out, type, src->msg.data, src->msg.len);
    thi_env_t *e = thi_env_alloc();
    if (e == NULL)
        return TH_ENOMEM;
    if (type != NULL) {
        env_reset(e, type);
    } else {
        /* a carried name lives in the shared payload: keep pointing at it */
        static const thi_type_t none = {"", 0, 0};
        env_reset(e, &none);
        e->msg.type = src->msg.type;
        e->type_owned = 1;
    }
    atomic_fetch_add_explicit(&src->ext->refs, 1, memory_order_relaxed);
    e->ext = src->ext;
    e->msg.data = src->msg.data; /* the view: may start past a prefix */
    e->msg.len = src->msg.len;
    *out = e;
    return 0;
}

int
thi_env_new_named(thi_env_t **out, const char *name, const void *data,
                  size_t len)
{
    size_t nlen = strlen(name) + 1;
    thi_payload_t *p;
    if (thi_payload_alloc(&p, nlen + len) != 0)
        return TH_ENOMEM;
    memcpy(p->data, name, nlen);
    if (len)
        memcpy(p->data + nlen, data, len);
    thi_env_t *e = env_alloc();
    if (e == NULL) {
        thi_payload_release(p);
        return TH_ENOMEM;
    }
    static const thi_type_t none = {"", 0, 0};
    env_reset(e, &none);
    e->ext = p;
    e->msg.type = (const char *)p->data;
    e->type_owned = 1;
    e->msg.data = p->data + nlen;
    e->msg.len = len;
    *out = e;
    return 0;
}

/* ---- Wrapping a message as JSON (PoisonMessage, DeadEnvelope) -------------- */

char *
thi_wrap_message_json(const thi_env_t *env, const char *details,
                      const th_addr_t *target)
{
    char addr[TH_ADDR_STRLEN];
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string(env->msg.type));
    thi_wire_addr_format(&env->msg.sender, addr, sizeof addr);
    json_object_set_new(o, "sender", json_string(addr));
    if (target) {
        thi_wire_addr_format(target, addr, sizeof addr);
        json_object_set_new(o, "target", json_string(addr));
    }
    if (details)
        json_object_set_new(o, "details", json_string(details));
    json_t *body = env->msg.len
                       ? json_loadb(env->msg.data, env->msg.len,
                                    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                                    NULL)
                       : NULL;
    if (body) {
        json_object_set_new(o, "body", body);
    } else {
        char *b64 = NULL;
        if (thi_base64_encode(&b64, env->msg.data, env->msg.len) == 0) {
            json_object_set_new(o, "payload_b64", json_string(b64));
            free(b64);
        }
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ---- Small utilities ----------------------------------------------------------- */

/* Address nonces must be unguessable (DESIGN §5): they come straight from
 * the kernel's CSPRNG. A per-thread buffer refilled 4 KiB at a time keeps
 * the cost per actor near a load; seeing some nonces tells nothing about
 * the others. */
#define RNG_WORDS 512
static _Thread_local uint64_t rng_buf[RNG_WORDS];
static _Thread_local unsigned rng_left;

uint64_t
thi_random64(void)
{
    if (rng_left == 0) {
        size_t got = 0;
        while (got < sizeof rng_buf) {
            ssize_t r = getrandom((char *)rng_buf + got, sizeof rng_buf - got,
                                  0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                abort(); /* no kernel randomness: no safe addresses either */
            got += (size_t)r;
        }
        rng_left = RNG_WORDS;
    }
    uint64_t v = rng_buf[--rng_left];
    rng_buf[rng_left] = 0; /* used once */
    return v ? v : 1;
}

void
thi_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

int64_t
thi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

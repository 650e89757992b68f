/*
 * host/sources/request.c — a load asked for, up to the yes or no. The
 * runtime verifies every bundle itself first, on its own copy of the
 * bytes, against the keyring (keys.c). A Source Authority, when the
 * system registered one, is an additional gate (ValidateSource): it may
 * refuse what the keyring accepted, never accept what it refused; without
 * one the system's own word stands. Its answer, ValidatedSource, reaches
 * thi_source_validated on the system actor. A load from outside
 * (th_system_load_source) prepares the source on its caller's thread while
 * the authority decides, and commits it there once the answer is yes; an
 * actor's load is prepared and committed by the system actor (load.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/thread.h"
#include "host/log.h"
#include "host/sources/internal.h"
#include "loader/keyring.h"

static size_t
pending_len(const thi_pending_t *p)
{
    return p->bytes->len - TH_VALIDATE_SOURCE_HEADER;
}

static thi_pending_t *
pending_take(struct th_system *sys, const char *hash)
{
    for (thi_pending_t **pp = &SRC(sys)->pending; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->hash, hash) == 0) {
            thi_pending_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

/* `p` off the pending list (if still there) and freed. */
static void
pending_drop(struct th_system *sys, thi_pending_t *p)
{
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_pending_t **pp = &SRC(sys)->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&sys->classes_lock);
    thi_payload_release(p->bytes);
    free(p);
}

/* A decided load's end, whoever committed it: a failure logged, `p`
 * dropped (the source, if any, is listed now), the record's write asked
 * for if it rose. */
static void
load_done(struct th_system *sys, thi_pending_t *p, int rc, bool record,
          const th_diag_t *d)
{
    if (rc)
        thi_log(TH_LOG_ERROR, NULL, "%s", d->msg);
    pending_drop(sys, p);
    if (record)
        thi_versions_save(sys);
}

/* The system actor got ValidatedSource: only the registered authority's
 * answer counts, or, for a load made while no authority was registered,
 * the system's own (sent to itself by thi_source_request). */
void
thi_source_validated(struct th_system *sys, thi_env_t *env)
{
    json_t *o = json_loadb(env->msg.data, env->msg.len, JSON_REJECT_DUPLICATES,
                           NULL);
    const char *hash = json_string_value(json_object_get(o, "sourceHash"));
    pthread_mutex_lock(&sys->classes_lock);
    th_addr_t root;
    th_system_address_of(sys, &root);
    const th_addr_t *auth = &SRC(sys)->authority;
    bool from_authority = th_addr_eq(&env->msg.sender, auth) &&
                          !th_addr_is_null(auth);
    bool from_system = env->system && th_addr_eq(&env->msg.sender, &root);
    thi_pending_t *p = NULL;
    for (thi_pending_t *q = SRC(sys)->pending; hash && q; q = q->next)
        if (!strcmp(q->hash, hash) && !q->processing &&
            (q->direct ? from_system : from_authority))
            p = q;
    if (p)
        p->processing = true;
    pthread_mutex_unlock(&sys->classes_lock);
    if (p == NULL) {
        char a[TH_ADDR_STRLEN];
        th_addr_to_string(&env->msg.sender, a, sizeof a);
        thi_log(TH_LOG_WARNING, NULL,
                "ValidatedSource from %s ignored (%s)", a,
                !from_authority && !from_system
                    ? "not the registered Source Authority"
                    : "no pending load with that hash");
        json_decref(o);
        return;
    }
    th_diag_t d = {0};
    bool valid = json_is_true(json_object_get(o, "valid"));
    if (!valid) {
        const char *why = json_string_value(json_object_get(o, "reason"));
        thi_diag_set(&d, TH_EBADSIG,
                     "source %.12s refused by the Source Authority: %s",
                     p->hash, why ? why : "no reason given");
    }
    json_decref(o);
    if (th_addr_is_null(&p->requester)) {
        /* an outside load: its caller, which prepared it meanwhile,
         * commits it; if it gave up, dropping it is ours */
        pthread_mutex_lock(&sys->state_lock);
        bool abandoned = p->abandoned;
        if (!abandoned) {
            p->verdict = valid ? 1 : -1;
            p->diag = d;
            pthread_cond_broadcast(&sys->state_cond);
        }
        pthread_mutex_unlock(&sys->state_lock);
        if (abandoned)
            pending_drop(sys, p);
        return;
    }
    /* an actor's load: prepared and committed here */
    int rc = TH_EBADSIG;
    bool record = false;
    if (valid) {
        thi_prepared_t prep;
        rc = thi_source_prepare(&prep, p, &d);
        if (rc == 0)
            rc = thi_source_commit(sys, p, &prep, &record, &d);
    }
    load_done(sys, p, rc, record, &d);
}

/* Verify `p`'s bytes against the system's keyring (read-locked: a reload
 * swaps the ring, never changes one in use). The one hashing pass of the
 * load: it gives the signature's digest and the source hash together. */
static int
verify_pending(struct th_system *sys, thi_pending_t *p, th_diag_t *d)
{
    thi_verified_t v;
    pthread_rwlock_rdlock(&SRC(sys)->keys_lock);
    int rc = thi_bundle_verify(&v, thi_pending_bundle(p), pending_len(p),
                               SRC(sys)->keyring, "bundle", d);
    pthread_rwlock_unlock(&SRC(sys)->keys_lock);
    if (rc == 0) {
        p->signed_len = v.signed_len;
        memcpy(p->hash, v.source_hex, 65);
        /* the authority names the source by this hash: it need not hash
         * the bundle again (docs/messages.md, ValidateSource) */
        memcpy(p->bytes->data, v.source_hex, 64);
        p->bytes->data[64] = '\n';
        snprintf(p->key, sizeof p->key, "%s", v.key_name);
    }
    return rc;
}

int
thi_source_request(struct th_system *sys, const th_addr_t *requester,
                   const void *bundle, size_t len, bool allow_rollback,
                   char hash_out[65], thi_pending_t **out, th_diag_t *d)
{
    hash_out[0] = '\0';
    if (len > THI_BUNDLE_MAX_BYTES)
        return thi_diag_set(d, TH_ETOOBIG,
                            "bundle of %zu bytes is over the limit of %zu",
                            len, THI_BUNDLE_MAX_BYTES);
    /* our own copy first: what is verified is what is later read and
     * mapped, whatever the caller does with its buffer */
    thi_pending_t *p = calloc(1, sizeof *p);
    int rc = p ? thi_payload_alloc(&p->bytes, TH_VALIDATE_SOURCE_HEADER + len)
               : TH_ENOMEM;
    if (rc) {
        free(p);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    memcpy(p->bytes->data + TH_VALIDATE_SOURCE_HEADER, bundle, len);
    p->allow_rollback = allow_rollback;
    if (requester)
        p->requester = *requester;
    rc = verify_pending(sys, p, d);
    if (rc) {
        thi_log(TH_LOG_WARNING, NULL, "%s", d ? d->msg : "load refused");
        goto out_free;
    }
    memcpy(hash_out, p->hash, 65);
    pthread_mutex_lock(&sys->classes_lock);
    thi_source_t *listed = thi_source_by_hash_locked(sys, hash_out);
    if (listed) {
        bool unloading = listed->unloading;
        pthread_mutex_unlock(&sys->classes_lock);
        if (unloading) {
            rc = thi_diag_set(d, TH_ESOURCE,
                              "source %.12s is being unloaded; load it "
                              "again once it is gone",
                              hash_out);
            goto out_free;
        }
        rc = 1; /* loaded already: a no-op */
        goto out_free;
    }
    for (thi_pending_t *q = SRC(sys)->pending; q; q = q->next)
        if (!strcmp(q->hash, hash_out)) {
            pthread_mutex_unlock(&sys->classes_lock);
            rc = thi_diag_set(d, TH_EEXIST,
                              "source %.12s is already being loaded",
                              hash_out);
            goto out_free;
        }
    th_addr_t root, authority = SRC(sys)->authority;
    th_system_address_of(sys, &root);
    p->direct = th_addr_is_null(&authority);
    if (p->direct && requester == NULL) {
        /* no authority and a caller that commits itself: the system's
         * word needs no message */
        p->verdict = 1;
        p->processing = true;
    }
    p->next = SRC(sys)->pending;
    SRC(sys)->pending = p;
    if (!p->direct)
        atomic_fetch_add(&p->bytes->refs, 1); /* one for the message */
    pthread_mutex_unlock(&sys->classes_lock);
    if (out)
        *out = p;
    if (p->direct && requester == NULL)
        return 0;
    if (p->direct) {
        /* no authority: the system actor loads it on its own word */
        char body[120];
        snprintf(body, sizeof body, "{\"sourceHash\":\"%s\",\"valid\":true}",
                 hash_out);
        rc = thi_send_system(sys, &root, &root, TH_MSG_VALIDATED_SOURCE, body,
                             strlen(body));
        return rc ? thi_diag_set(d, rc, "the system cannot be reached: %s",
                                 th_strerror(rc))
                  : 0;
    }
    const thi_type_t *t = thi_type_builtin(TH_MSG_VALIDATE_SOURCE);
    thi_env_t *env;
    rc = thi_env_from_payload(&env, t, p->bytes);
    if (rc) {
        thi_payload_release(p->bytes);
        return thi_diag_set(d, rc, "out of memory");
    }
    env->system = 1;
    env->msg.sender = root;
    rc = thi_deliver(sys, &authority, env);
    if (rc)
        return thi_diag_set(d, TH_EPERM,
                            "the Source Authority cannot be reached: %s",
                            th_strerror(rc));
    return 0;

out_free:
    thi_payload_release(p->bytes);
    free(p);
    return rc;
}

static bool
pending_decided(void *arg)
{
    thi_pending_t *p = arg;
    return p->verdict != 0;
}

int
th_system_load_source(th_system_t *sys, const uint8_t *bundle, size_t len,
                      const char *what, bool allow_rollback, char hash_out[65],
                      th_diag_t *d)
{
    thi_pending_t *p = NULL;
    th_diag_t rd = {0};
    int rc = thi_source_request(sys, NULL, bundle, len, allow_rollback,
                                hash_out, &p, &rd);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        if (p) /* a request the authority never received */
            pending_drop(sys, p);
        return thi_diag_set(d, rc, "%s: %s", what, rd.msg);
    }
    /* while the Source Authority decides: everything that needs no yes
     * beyond the keyring's and runs none of the bundle's code */
    thi_prepared_t prep;
    th_diag_t pd = {0};
    int prc = thi_source_prepare(&prep, p, &pd);
    int timeout = sys->opts.authority_timeout_ms;
    if (sys->opts.synchronous) {
        thi_sched_run_sync(sys, timeout, pending_decided, p);
        pthread_mutex_lock(&sys->state_lock);
    } else {
        struct timespec ts;
        thi_deadline_after(&ts, CLOCK_MONOTONIC, timeout);
        pthread_mutex_lock(&sys->state_lock);
        while (!p->verdict &&
               pthread_cond_timedwait(&sys->state_cond, &sys->state_lock,
                                      &ts) != ETIMEDOUT)
            ;
    }
    if (!p->verdict) {
        p->abandoned = true;
        pthread_mutex_unlock(&sys->state_lock);
        if (prc == 0)
            thi_prepared_free(&prep);
        /* if the answer never comes, drop the request; one the system
         * actor is deciding right now is dropped by it */
        pthread_mutex_lock(&sys->classes_lock);
        thi_pending_t *q = p->processing ? NULL : pending_take(sys, hash_out);
        pthread_mutex_unlock(&sys->classes_lock);
        if (q) {
            thi_payload_release(q->bytes);
            free(q);
        }
        return thi_diag_set(d, TH_ETIMEDOUT,
                            "%s: the Source Authority did not answer within "
                            "%d ms",
                            what, timeout);
    }
    pthread_mutex_unlock(&sys->state_lock);
    /* decided: the system actor is done with p, which is ours now */
    bool record = false;
    th_diag_t ld = {0};
    if (p->verdict < 0) {
        rc = TH_EBADSIG;
        ld = p->diag;
        if (prc == 0)
            thi_prepared_free(&prep);
    } else if (prc != 0) {
        rc = prc;
        ld = pd;
    } else {
        rc = thi_source_commit(sys, p, &prep, &record, &ld);
    }
    load_done(sys, p, rc, record, &ld);
    return rc ? thi_diag_set(d, rc, "%s", ld.msg) : 0;
}
int
thi_source_register_authority(struct th_system *sys, const th_addr_t *a,
                              const thi_class_t *cls)
{
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(a, text, sizeof text);
    const char *why = NULL;
    pthread_mutex_lock(&sys->classes_lock);
    if (SRC(sys)->authority_class[0] == '\0')
        why = "this system admits no Source Authority";
    else if (cls == NULL || strcmp(cls->qname, SRC(sys)->authority_class) != 0)
        why = "only the system's own authority class may register";
    else if (cls->source != NULL)
        why = "a class from a loaded bundle may not be the authority";
    else if (!th_addr_is_null(&SRC(sys)->authority) &&
             !th_addr_eq(&SRC(sys)->authority, a))
        why = "a Source Authority is registered already";
    else
        SRC(sys)->authority = *a; /* the first registration is the only one */
    pthread_mutex_unlock(&sys->classes_lock);
    if (why) {
        thi_log(TH_LOG_WARNING, a,
                "Source Authority registration refused (%s): %s",
                cls ? cls->qname : "?", why);
        return TH_EPERM;
    }
    thi_log(TH_LOG_INFO, NULL, "Source Authority registered: %s (%s)", text,
            cls->qname);
    return 0;
}

void
thi_pending_fini(struct th_system *sys)
{
    thi_pending_t *p = SRC(sys)->pending;
    while (p) {
        thi_pending_t *next = p->next;
        thi_payload_release(p->bytes);
        free(p);
        p = next;
    }
    SRC(sys)->pending = NULL;
}

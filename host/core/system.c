/*
 * host/core/system.c — the embeddable system: creation and orderly
 * shutdown, outside access (tell, create), status, and the public names
 * of the printed form of addresses (th_addr_to_string, th_addr_from_string:
 * thin aliases of the one printer, thi_wire_addr_format, which the host's
 * own code calls). Inboxes:
 * host/core/inbox.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/array.h"
#include "host/core/runtime.h"
#include "host/core/feature.h"
#include "host/core/core_int.h"
#include "host/log.h"
#include "host/core/provider.h"
#include "proto/wire.h"


/* One implementation of the text form, shared with the client library
 * (th_client_addr_format) and plugins (th_addr_format, through the API
 * table): it is a wire contract (proto/wire.c). These names are public
 * ABI of libthespian-host, kept as aliases. */
int
th_addr_to_string(const th_addr_t *addr, char *buf, size_t size)
{
    return thi_wire_addr_format(addr, buf, size);
}

int
th_addr_from_string(th_addr_t *out, const char *text)
{
    return thi_wire_addr_parse(out, text);
}

/* ---- System lifecycle ---------------------------------------------------------- */

int
th_system_create(th_system_t **out, const th_system_opts_t *opts)
{
    thi_types_init();
    th_system_t *sys = calloc(1, sizeof *sys);
    if (sys == NULL)
        return TH_ENOMEM;
    if (opts)
        sys->opts = *opts;
    if (sys->opts.mailbox_limit == 0)
        sys->opts.mailbox_limit = 1000000;
    if (sys->opts.max_payload == 0)
        sys->opts.max_payload = (size_t)16 << 20;
    if (sys->opts.authority_timeout_ms <= 0)
        sys->opts.authority_timeout_ms = 10000;
    snprintf(sys->name, sizeof sys->name, "%s",
             sys->opts.name ? sys->opts.name : "thespian");
    sys->opts.name = sys->name;
    sys->id = thi_random64();
    pthread_mutex_init(&sys->classes_lock, NULL);
    pthread_mutex_init(&sys->names_lock, NULL);
    pthread_mutex_init(&sys->dl_lock, NULL);
    pthread_mutex_init(&sys->state_lock, NULL);
    thi_cond_init(&sys->state_cond);
    thi_slots_init(sys);
    thi_root_init(sys);
    th_diag_t d = {0};
    int rc = thi_features_init(sys, &d);
    if (rc != 0 && d.msg[0])
        thi_log(TH_LOG_ERROR, NULL, "system %s: %s", sys->name, d.msg);
    if (rc != 0) {
        thi_slots_fini(sys);
        free(sys);
        return rc;
    }
    rc = thi_class_provider.init(sys);
    if (rc == 0)
        rc = thi_sched_create(sys, &sys->sched);
    if (rc != 0) {
        thi_sched_destroy(sys->sched);
        thi_features_fini(sys);
        thi_slots_fini(sys);
        thi_class_provider.fini(sys);
        free(sys);
        return rc;
    }
    thi_status_dump_register(sys);
    *out = sys;
    return 0;
}

static bool
root_done(void *arg)
{
    th_system_t *sys = arg;
    pthread_mutex_lock(&sys->state_lock);
    bool done = sys->root_done;
    pthread_mutex_unlock(&sys->state_lock);
    return done;
}

void
thi_deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int
th_system_stop(th_system_t *sys, int timeout_ms)
{
    thi_request_shutdown(sys);
    if (sys->opts.synchronous) {
        thi_sched_run_sync(sys, timeout_ms < 0 ? 0 : timeout_ms, root_done,
                           sys);
        return root_done(sys) ? 0 : TH_ETIMEDOUT;
    }
    struct timespec ts;
    thi_deadline_after(&ts, timeout_ms < 0 ? 0 : timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&sys->state_lock);
    while (!sys->root_done && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&sys->state_cond, &sys->state_lock);
        else if (pthread_cond_timedwait(&sys->state_cond, &sys->state_lock,
                                        &ts) == ETIMEDOUT)
            rc = TH_ETIMEDOUT;
    }
    if (sys->root_done)
        rc = 0;
    pthread_mutex_unlock(&sys->state_lock);
    return rc;
}

bool
th_system_is_stopping(th_system_t *sys)
{
    return atomic_load(&sys->stopping);
}

int
th_system_wait_stopping(th_system_t *sys, int timeout_ms)
{
    struct timespec ts;
    thi_deadline_after(&ts, timeout_ms < 0 ? 0 : timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&sys->state_lock);
    while (!atomic_load(&sys->stopping) && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&sys->state_cond, &sys->state_lock);
        else if (pthread_cond_timedwait(&sys->state_cond, &sys->state_lock,
                                        &ts) == ETIMEDOUT)
            rc = atomic_load(&sys->stopping) ? 0 : TH_ETIMEDOUT;
    }
    pthread_mutex_unlock(&sys->state_lock);
    return rc;
}

/* Systems whose actors never returned from a callback: kept reachable
 * (their workers still use them), never freed. */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static th_system_t **abandoned;
static size_t n_abandoned, cap_abandoned;

static void
abandon(th_system_t *sys)
{
    pthread_mutex_lock(&abandoned_lock);
    if (THI_RESERVE(abandoned, cap_abandoned, n_abandoned + 1, 4) == 0)
        abandoned[n_abandoned++] = sys;
    pthread_mutex_unlock(&abandoned_lock);
}

/* How long idle workers get to leave once the bound has passed. */
#define STOP_MARGIN_MS 500

int
th_system_destroy_within(th_system_t *sys, int stop_timeout_ms)
{
    if (sys == NULL)
        return 0;
    thi_status_dump_unregister(sys); /* no status dump of a dying system */
    if (stop_timeout_ms < 0)
        stop_timeout_ms = 0;
    /* the bound counts from when shutdown began, whoever began it */
    thi_request_shutdown(sys);
    int64_t began = atomic_load(&sys->stop_began_ns);
    int64_t left_ms = stop_timeout_ms - (thi_now_ns() - began) / 1000000;
    /* (synchronous mode reads 0 as "no deadline") */
    int rc = th_system_stop(sys, left_ms > 0 ? (int)left_ms
                                 : sys->opts.synchronous ? 1 : 0);
    if (rc != 0) {
        size_t n = thi_report_running(sys);
        thi_log(TH_LOG_ERROR, NULL,
                "system %s: %zu actor(s) still running %d ms after shutdown "
                "began; stopping anyway", sys->name, n, stop_timeout_ms);
        rc = TH_ETIMEDOUT;
        uint32_t stuck = thi_sched_stop_within(sys->sched, STOP_MARGIN_MS);
        if (stuck) {
            /* a callback that never returns still runs on those threads:
             * nothing it may touch can be freed */
            thi_log(TH_LOG_ERROR, NULL,
                    "system %s: %u worker thread(s) stuck in actor code; "
                    "the system's memory is left allocated", sys->name,
                    stuck);
            abandon(sys);
            return rc;
        }
    }
    thi_sched_destroy(sys->sched);
    thi_features_fini(sys);
    thi_slots_fini(sys);
    thi_class_provider.fini(sys);
    thi_names_fini(sys);
    thi_notify_fini(&sys->dl_handlers);
    pthread_mutex_destroy(&sys->classes_lock);
    pthread_mutex_destroy(&sys->names_lock);
    pthread_mutex_destroy(&sys->dl_lock);
    pthread_mutex_destroy(&sys->state_lock);
    pthread_cond_destroy(&sys->state_cond);
    free(sys);
    return rc;
}

int
th_system_destroy(th_system_t *sys)
{
    return th_system_destroy_within(sys, TH_STOP_TIMEOUT_DEFAULT_MS);
}

long
th_system_run(th_system_t *sys, int timeout_ms)
{
    if (!sys->opts.synchronous)
        return TH_EINVAL;
    return thi_sched_run_sync(sys, timeout_ms, NULL, NULL);
}

/* ---- Outside access ------------------------------------------------------------- */

int
th_system_create_actor(th_system_t *sys, th_addr_t *out,
                       const char *class_name, const th_create_opts_t *opts)
{
    return thi_create(sys, NULL, out, class_name, opts, NULL);
}

static bool
start_answered(void *arg)
{
    thi_start_wait_t *w = arg;
    pthread_mutex_lock(&w->lock);
    bool done = w->done;
    pthread_mutex_unlock(&w->lock);
    return done;
}

int
th_system_create_actor_wait(th_system_t *sys, th_addr_t *out,
                            const char *class_name,
                            const th_create_opts_t *opts, int timeout_ms,
                            th_diag_t *d)
{
    int rc = thi_create(sys, NULL, out, class_name, opts, d);
    if (rc != 0)
        return rc;
    thi_start_wait_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return 0; /* created; only the wait is not possible */
    atomic_init(&w->refs, 2); /* this caller and the probe */
    pthread_mutex_init(&w->lock, NULL);
    thi_cond_init(&w->cond);
    /* queued behind START: when it is handled, init has run; when it
     * cannot be queued, the actor is already gone (answered as a dead
     * letter) */
    if (thi_send_internal(sys, out, THI_ENV_START_PROBE, &w, sizeof w, NULL,
                          0) == TH_ENOMEM) {
        thi_start_wait_put(w);
        thi_start_wait_put(w);
        return 0;
    }
    if (sys->opts.synchronous)
        thi_sched_run_sync(sys, timeout_ms, start_answered, w);
    struct timespec ts;
    thi_deadline_after(&ts, timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&w->lock);
    while (!w->done && !sys->opts.synchronous) {
        if (timeout_ms < 0)
            pthread_cond_wait(&w->cond, &w->lock);
        else if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
            break;
    }
    rc = !w->done ? TH_ETIMEDOUT : w->started ? 0 : TH_EFAIL;
    pthread_mutex_unlock(&w->lock);
    thi_start_wait_put(w);
    if (rc == TH_EFAIL)
        thi_diag_set(d, rc, "%s failed to start: its init refused (the "
                     "internal log says why)", class_name);
    return rc;
}

/* Synchronous mode runs the system after a send from outside, as
 * Thespian's simpleSystemBase does on tell: when the send returns, what it
 * caused has happened (timers excepted). sync_queue_only keeps sends
 * queue-only. A send from inside a run (nested) only queues. */
int
thi_ran_after_send(struct th_system *sys, int rc)
{
    if (rc == 0 && sys->opts.synchronous && !sys->opts.sync_queue_only)
        (void)thi_sched_run_sync(sys, 0, NULL, NULL);
    return rc;
}

int
th_system_tell(th_system_t *sys, const th_addr_t *to, const char *type,
               const void *data, size_t len)
{
    return to ? thi_ran_after_send(sys, thi_send_user(sys, NULL, to, NULL, type,
                                                  data, len,
                                                  THI_TYPE_OUTSIDE))
              : TH_EINVAL;
}

int
th_system_tell_name(th_system_t *sys, const char *name, const char *type,
                    const void *data, size_t len)
{
    return name ? thi_ran_after_send(sys, thi_send_user(sys, NULL, NULL, name,
                                                    type, data, len,
                                                    THI_TYPE_OUTSIDE))
                : TH_EINVAL;
}

void
th_system_address_of(th_system_t *sys, th_addr_t *out)
{
    thi_slot_addr(sys, sys->root, sys->root->live_nonce, out);
}

void
th_system_stats(th_system_t *sys, th_system_stats_t *out)
{
    out->live_actors = atomic_load(&sys->live_actors);
    out->dead_letters = atomic_load(&sys->dead_letters);
    out->messages = thi_sched_messages(sys->sched);
    out->pending_timers = 0;
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->stats)
            thi_features[i]->stats(sys, out);
}

int
th_system_status_json(th_system_t *sys, char **out)
{
    json_t *o = json_object(), *list = json_array();
    if (o == NULL || list == NULL) {
        json_decref(o);
        json_decref(list);
        return TH_ENOMEM;
    }
    th_addr_t self;
    char a[TH_ADDR_STRLEN];
    th_system_address_of(sys, &self);
    thi_wire_addr_format(&self, a, sizeof a);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    json_object_set_new(o, "name", json_string(sys->name));
    json_object_set_new(o, "address", json_string(a));
    json_object_set_new(o, "synchronous", json_boolean(sys->opts.synchronous));
    json_object_set_new(o, "workers",
                        json_integer(thi_sched_workers(sys->sched)));
    json_object_set_new(o, "live_actors", json_integer((json_int_t)st.live_actors));
    json_object_set_new(o, "dead_letters",
                        json_integer((json_int_t)st.dead_letters));
    json_object_set_new(o, "messages", json_integer((json_int_t)st.messages));
    json_object_set_new(o, "pending_wakeups",
                        json_integer((json_int_t)st.pending_timers));
    json_object_set_new(o, "sources",
                        json_integer((json_int_t)thi_class_provider.count(sys)));
    /* the process-wide type table: types from outside never count here */
    unsigned types_n, types_sent;
    thi_types_count(&types_n, &types_sent);
    json_object_set_new(o, "message_types",
                        json_pack("{s:I, s:I, s:I, s:I}", "interned",
                                  (json_int_t)types_n, "limit",
                                  (json_int_t)THI_TYPES_MAX, "by_actor_sends",
                                  (json_int_t)types_sent, "actor_sends_limit",
                                  (json_int_t)THI_TYPES_SENT_MAX));
    uint32_t n = atomic_load(&sys->n_slots);
    for (uint32_t id = 0; id < n && json_array_size(list) < 10000; id++) {
        thi_slot_t *slot = thi_slot_get(sys, id);
        if (slot->kind != THI_SLOT_ACTOR || atomic_load(&slot->cls) == NULL)
            continue;
        json_t *e = json_object();
        thi_actor_status(sys, slot, 0, e);
        json_array_append_new(list, e);
    }
    json_t *names = json_object();
    thi_names_to_json(sys, names);
    json_object_set_new(o, "names", names);
    json_object_set_new(o, "actors", list);
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *out ? 0 : TH_ENOMEM;
}

/* ---- The internal log, for the embedding program ------------------------- */

void
th_log_internal(int level, const th_addr_t *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thi_vlog(level, who, fmt, ap);
    va_end(ap);
}

void
th_log_set_internal_file(const char *path)
{
    thi_log_set_internal(path);
}

const char *
th_log_level_name(int level)
{
    return thi_log_level_name(level);
}

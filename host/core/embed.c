/*
 * host/core/embed.c — the system as an embedding program sees it:
 * creation and orderly shutdown, outside access (tell, create), and the
 * public names of the printed form of addresses (th_addr_to_string,
 * th_addr_from_string: thin aliases of the one printer,
 * thi_wire_addr_format, which the host's own code calls). The struct and
 * what every core file shares are host/core/system.h; status is
 * status.c; inboxes inbox.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/array.h"
#include "base/thread.h"
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
    thi_deadline_after(&ts, CLOCK_MONOTONIC, timeout_ms < 0 ? 0 : timeout_ms);
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
    thi_deadline_after(&ts, CLOCK_MONOTONIC, timeout_ms < 0 ? 0 : timeout_ms);
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
    thi_deadline_after(&ts, CLOCK_MONOTONIC, timeout_ms < 0 ? 0 : timeout_ms);
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

/*
 * host/admin/ratelimit.c — the admin endpoint's log lines about outside
 * input, bounded: a flood of garbage frames or of refused connections
 * must not become a flood of log lines. Each limit counts what it holds
 * back and reports the count when its window ends.
 */
#include <inttypes.h>
#include <pthread.h>

#include "host/admin/internal.h"

static const char *const refuse_kind[N_REFUSE] = {
    "with a failed CurveZMQ handshake",
    "with a client key not in the allow-list"};

/* At most LOG_PER_SEC warnings about bad input a second. */
void
thi_adm_log_roll(struct thi_admin *a, int64_t s)
{
    if (s == a->log_window)
        return;
    if (a->suppressed_logs)
        th_log_internal(TH_LOG_WARNING, NULL,
                        "admin: %" PRIu64 " more warnings about bad input "
                        "were not logged",
                        a->suppressed_logs);
    a->suppressed_logs = 0;
    a->log_window = s;
    a->log_count = 0;
}

bool
thi_adm_may_log(struct thi_admin *a)
{
    thi_adm_log_roll(a, thi_adm_now_ms() / 1000);
    if (a->log_count++ < LOG_PER_SEC)
        return true;
    a->suppressed_logs++;
    return false;
}

/* A refused connection: the first of a burst is logged with its detail,
 * the rest of the next REFUSE_QUIET_MS only counted (refuse_roll reports
 * the count), so a flood of refused peers cannot flood the log. Any
 * thread. */
void
thi_adm_refused(struct thi_admin *a, int kind, const char *line)
{
    int64_t now = thi_adm_now_ms();
    pthread_mutex_lock(&a->refuse_lock);
    struct refusals *r = &a->refuse[kind];
    bool log = now >= r->until;
    if (log)
        r->until = now + REFUSE_QUIET_MS;
    else
        r->suppressed++;
    pthread_mutex_unlock(&a->refuse_lock);
    if (log)
        th_log_internal(TH_LOG_WARNING, NULL,
                        "admin: %s (more connections refused %s in the next "
                        "%d s are counted, not logged)",
                        line, refuse_kind[kind], REFUSE_QUIET_MS / 1000);
}

/* Report what refused() held back once its window is over. */
void
thi_adm_refuse_roll(struct thi_admin *a, bool all)
{
    int64_t now = thi_adm_now_ms();
    for (int k = 0; k < N_REFUSE; k++) {
        pthread_mutex_lock(&a->refuse_lock);
        struct refusals *r = &a->refuse[k];
        uint64_t n = 0;
        if (r->suppressed && (all || now >= r->until)) {
            n = r->suppressed;
            r->suppressed = 0;
        }
        pthread_mutex_unlock(&a->refuse_lock);
        if (n)
            th_log_internal(TH_LOG_WARNING, NULL,
                            "admin: %" PRIu64 " more connections refused %s "
                            "in the last %d s",
                            n, refuse_kind[k], REFUSE_QUIET_MS / 1000);
    }
}

/* What the ZAP handler reports, from its thread. */
void
thi_adm_zap_event(void *arg, int kind, const char *line)
{
    struct thi_admin *a = arg;
    if (kind == THI_ZAP_REFUSED)
        thi_adm_refused(a, REFUSE_KEY, line);
    else
        th_log_internal(TH_LOG_WARNING, NULL, "admin: %s", line);
}

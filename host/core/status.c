/*
 * host/core/status.c — what a system reports: its counters
 * (th_system_stats), its status JSON (th_system_status_json: the system,
 * each live actor, the global names), and the SIGUSR1 dump of every live
 * system's status to the internal log, whatever its threshold, by a
 * thread of its own. The signal handler, or a program that takes SIGUSR1
 * itself (th_log_status_dump), only wakes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/array.h"
#include "base/thread.h"
#include "host/core/core_int.h"
#include "host/core/feature.h"
#include "host/core/provider.h"
#include "host/log.h"
#include "proto/wire.h"

static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static th_system_t **systems;
static size_t n_systems, cap_systems;
static pthread_once_t usr1_once = PTHREAD_ONCE_INIT;
static int usr1_pipe[2] = {-1, -1};

void
th_log_status_dump(void)
{
    if (usr1_pipe[1] < 0)
        return;
    int saved = errno;
    char b = 1;
    ssize_t w = write(usr1_pipe[1], &b, 1); /* full pipe: a dump is due */
    (void)w;
    errno = saved;
}

static void
on_usr1(int sig)
{
    (void)sig;
    th_log_status_dump();
}

static void *
dump_thread(void *arg)
{
    (void)arg;
    char buf[64];
    for (;;) {
        ssize_t r = read(usr1_pipe[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        pthread_mutex_lock(&sys_lock);
        char head[96];
        snprintf(head, sizeof head, "SIGUSR1: status of %zu system(s), pid %ld",
                 n_systems, (long)getpid());
        thi_log_status(head);
        for (size_t i = 0; i < n_systems; i++) {
            char *text = NULL;
            if (th_system_status_json(systems[i], &text) == 0)
                thi_log_status(text);
            free(text);
        }
        pthread_mutex_unlock(&sys_lock);
    }
}

static void
usr1_init(void)
{
    struct sigaction old;
    if (sigaction(SIGUSR1, NULL, &old) != 0)
        return;
    bool taken = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL
                                             : old.sa_handler != SIG_DFL;
    if (taken) {
        thi_log(TH_LOG_WARNING, NULL,
                "SIGUSR1 already has a handler in this program; the status "
                "dump is off");
        return;
    }
    if (pipe2(usr1_pipe, O_CLOEXEC) != 0)
        return;
    fcntl(usr1_pipe[1], F_SETFL, O_NONBLOCK);
    pthread_t t;
    if (thi_thread_start(&t, NULL, dump_thread, NULL) != 0) {
        close(usr1_pipe[0]);
        close(usr1_pipe[1]);
        return;
    }
    pthread_detach(t);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
}

void
thi_status_dump_register(th_system_t *sys)
{
    pthread_once(&usr1_once, usr1_init);
    pthread_mutex_lock(&sys_lock);
    if (THI_RESERVE(systems, cap_systems, n_systems + 1, 8) != 0) {
        pthread_mutex_unlock(&sys_lock); /* only the dump misses it */
        return;
    }
    systems[n_systems++] = sys;
    pthread_mutex_unlock(&sys_lock);
}

void
thi_status_dump_unregister(th_system_t *sys)
{
    pthread_mutex_lock(&sys_lock);
    for (size_t i = 0; i < n_systems; i++)
        if (systems[i] == sys) {
            systems[i] = systems[--n_systems];
            break;
        }
    pthread_mutex_unlock(&sys_lock);
}

/* ---- What a system reports ------------------------------------------------ */

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

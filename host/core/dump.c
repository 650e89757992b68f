/*
 * host/core/dump.c — the SIGUSR1 status dump: each live system's status
 * (th_system_status_json) written to the internal log, whatever its
 * threshold, by a thread of its own. The signal handler, or a program
 * that takes SIGUSR1 itself (th_log_status_dump), only wakes it.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "host/log.h"

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

/*
 * base/thread.c — threads that take no asynchronous signal, and the
 * deadlines their waits take (thread.h).
 */
#include <signal.h>

#include "base/thread.h"

int
thi_thread_start(pthread_t *t, const pthread_attr_t *attr,
                 void *(*fn)(void *), void *arg)
{
    /* the new thread inherits the mask in force at pthread_create */
    sigset_t quiet, prev;
    sigfillset(&quiet);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
                                 SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&quiet, faults[i]);
    pthread_sigmask(SIG_SETMASK, &quiet, &prev);
    int rc = pthread_create(t, attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    return rc;
}

void
thi_deadline_after(struct timespec *ts, clockid_t clock, int timeout_ms)
{
    clock_gettime(clock, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

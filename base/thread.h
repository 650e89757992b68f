/*
 * base/thread.h — starting the threads our libraries own. Such a thread
 * takes no asynchronous signal: a handler that interrupts it mid-call
 * (a ZeroMQ receive returning EINTR halfway through a multipart message,
 * say) could lose work, and the signals belong to the program that embeds
 * us. Signals raised by the thread's own faults (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGTRAP, SIGSYS) stay deliverable so crashes are still reported.
 */
#ifndef TH_BASE_THREAD_H
#define TH_BASE_THREAD_H

#include <pthread.h>
#include <time.h>

/* pthread_create with every asynchronous signal blocked in the new thread
 * (the caller's mask is left as it was). `attr` may be NULL. Returns 0 or
 * pthread_create's error number. Thread-safe. */
int thi_thread_start(pthread_t *t, const pthread_attr_t *attr,
                     void *(*fn)(void *), void *arg);

/* *ts = the time on `clock` timeout_ms (>= 0) from now, the absolute form
 * pthread_cond_timedwait and pthread_timedjoin_np take. Thread-safe. */
void thi_deadline_after(struct timespec *ts, clockid_t clock, int timeout_ms);

#endif /* TH_BASE_THREAD_H */

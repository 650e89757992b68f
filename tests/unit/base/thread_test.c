/*
 * tests/unit/base/thread_test.c — base/thread.h: a thread our libraries
 * start takes no asynchronous signal (so no handler interrupts it in the
 * middle of a ZeroMQ call), still takes the signals of its own faults, and
 * the starting thread's mask is left as it was.
 */
#include <pthread.h>
#include <signal.h>

#include "base/thread.h"
#include "th_test.h"

static void *
read_mask(void *arg)
{
    pthread_sigmask(SIG_SETMASK, NULL, (sigset_t *)arg);
    return NULL;
}

TH_TEST(started_thread_blocks_async_signals)
{
    sigset_t none, seen;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    pthread_t t;
    CHECK_RC(thi_thread_start(&t, NULL, read_mask, &seen), 0);
    CHECK_RC(pthread_join(t, NULL), 0);
    static const int quiet[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP,
                                SIGALRM, SIGCHLD, SIGPIPE, SIGWINCH};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        if (sigismember(&seen, quiet[i]) != 1)
            TH_FAIL_AT_("signal %d reaches the thread", quiet[i]);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
                                 SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        if (sigismember(&seen, faults[i]) != 0)
            TH_FAIL_AT_("fault signal %d is blocked", faults[i]);
}

TH_TEST(caller_mask_unchanged)
{
    sigset_t mine, after, seen;
    sigemptyset(&mine);
    sigaddset(&mine, SIGUSR2);
    pthread_sigmask(SIG_SETMASK, &mine, NULL);
    pthread_t t;
    CHECK_RC(thi_thread_start(&t, NULL, read_mask, &seen), 0);
    CHECK_RC(pthread_join(t, NULL), 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK(sigismember(&after, SIGUSR2) == 1);
    CHECK(sigismember(&after, SIGUSR1) == 0);
    CHECK(sigismember(&after, SIGTERM) == 0);
}

TH_TEST_MAIN(TH_CASE(started_thread_blocks_async_signals),
             TH_CASE(caller_mask_unchanged))

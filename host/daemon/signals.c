/*
 * host/daemon/signals.c — signals as events: SIGTERM and SIGINT begin the
 * orderly shutdown, SIGHUP reloads the trusted keys of the director
 * directory, SIGUSR1 asks for a status dump. All arrive on a signalfd that
 * the admin loop polls, so no handler runs inside the runtime.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include "host/daemon/daemon.h"

int
thi_daemon_signals(void)
{
    /* the mask is set before any thread exists, so every thread inherits
     * it and the signals reach only the fd */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP); /* reload the trusted keys */
    /* the status dump: taken here too, so no handler ever interrupts a
     * thread in the middle of a ZeroMQ call */
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        thi_daemon_report(false, "signalfd: %s", strerror(errno));
    return sfd;
}

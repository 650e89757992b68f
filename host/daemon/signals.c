/*
 * host/daemon/signals.c — what each signal means to thespiand: SIGTERM
 * and SIGINT begin the orderly shutdown, SIGHUP reloads the trusted keys
 * of the director directory, SIGUSR1 asks the host library for its status
 * dump (th_log_status_dump). All arrive on a signalfd that the admin loop
 * polls as its wake fd and hands to thi_daemon_on_signal, so no handler
 * runs inside the runtime and none cuts a ZeroMQ call short.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

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

void
thi_daemon_on_signal(thi_admin_t *admin, int sfd, void *sys)
{
    struct signalfd_siginfo si;
    char why[64] = "stop requested";
    bool got = read(sfd, &si, sizeof si) == (ssize_t)sizeof si;
    if (got && si.ssi_signo == SIGHUP) {
        /* the operator's reload of the trusted keys */
        th_diag_t kd = {0};
        if (th_system_reload_keys(sys, NULL, &kd) != 0)
            th_log_internal(TH_LOG_ERROR, NULL, "SIGHUP: %s", kd.msg);
    } else if (got && si.ssi_signo == SIGUSR1) {
        th_log_status_dump(); /* written by the library's dump thread */
    } else {
        if (got)
            snprintf(why, sizeof why, "signal %s",
                     si.ssi_signo == SIGTERM  ? "SIGTERM"
                     : si.ssi_signo == SIGINT ? "SIGINT"
                                              : "other");
        thi_admin_stop(admin, why);
    }
}

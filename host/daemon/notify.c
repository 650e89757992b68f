/*
 * host/daemon/notify.c — readiness: once the keys, the Source Authority
 * and the admin endpoint are in place, the start-up report says so (the
 * waiting parent exits) and a Type=notify systemd unit hears READY=1.
 */
#include <errno.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "host/daemon/daemon.h"

void
thi_daemon_ready(const thi_admin_t *admin)
{
    thi_daemon_report(true, "serving %s (pid %ld)", thi_admin_endpoint(admin),
                      (long)getpid());
    /* Does nothing without $NOTIFY_SOCKET; unset it so no process started
     * later writes to the socket. */
    int nrc = sd_notifyf(1, "READY=1\nMAINPID=%ld\nSTATUS=serving %s",
                         (long)getpid(), thi_admin_endpoint(admin));
    if (nrc < 0)
        th_log_internal(TH_LOG_WARNING, NULL,
                        "thespiand: cannot tell the service manager it is "
                        "ready ($NOTIFY_SOCKET): %s",
                        strerror(-nrc));
    thi_daemon_report_done();
}

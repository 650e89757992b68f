/*
 * host/daemon/shutdown.c — the bounded end: the admin endpoint closes,
 * then the system within the same bound, counted from when shutdown
 * began. A worker stuck in actor code is not waited for (the memory it
 * may touch is left to the exit), and the exit status says so (3).
 */
#include <unistd.h>

#include "host/daemon/daemon.h"

int
thi_daemon_shutdown(thi_admin_t *admin, th_system_t *sys, int stop_bound,
                    const char *pidfile, int sfd, int rc, bool late)
{
    thi_admin_destroy(admin);
    if (sys != NULL && th_system_destroy_within(sys, stop_bound) != 0)
        late = true;
    thi_daemon_pidfile_remove(pidfile);
    close(sfd);
    if (rc == 0 && late)
        th_log_internal(TH_LOG_ERROR, NULL,
                        "thespiand: stopped with actors still running %d ms "
                        "after shutdown began (exit status %d)",
                        stop_bound, EXIT_STUCK);
    else if (rc == 0)
        th_log_internal(TH_LOG_INFO, NULL, "thespiand: stopped");
    return rc != 0 ? EXIT_FAIL : late ? EXIT_STUCK : EXIT_OK;
}

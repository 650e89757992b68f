/*
 * host/daemon/keys.c — the admin endpoint's protection at start
 * (docs/security.md): a tcp:// endpoint gets the host's CurveZMQ key pair
 * (made at first start, with an operator key) and the allow-list
 * directory; an ipc:// endpoint needs a private socket directory.
 */
#include <stdio.h>

#include "host/daemon/daemon.h"

/* The admin endpoint's protection (docs/security.md): for tcp:// the
 * host's CurveZMQ key pair and allow-list under the key directory (made
 * at first start), for ipc:// a private socket directory. Returns 0 or
 * -1 after reporting. */
int
thi_daemon_keys(const options_t *o, startup_t *st, const char *director_dir)
{
    char why[THI_CURVE_WHY];
    if (!thi_curve_needed(st->endpoint)) {
        if (thi_curve_ipc_dir(st->endpoint, why) != 0) {
            thi_daemon_report(false, "admin endpoint %s: %s", st->endpoint,
                              why);
            return -1;
        }
        return 0;
    }
    char kdir[THI_CURVE_PATH];
    if (thi_curve_key_dir(kdir, o->key_dir, director_dir, why) != 0 ||
        thi_curve_host_init(&st->key, &st->key_created, kdir, why) != 0) {
        thi_daemon_report(false, "admin keys: %s", why);
        return -1;
    }
    st->curve = true;
    snprintf(st->clients_dir, sizeof st->clients_dir,
             "%.4000s/" THI_CURVE_SUBDIR "/" THI_CURVE_CLIENTS, kdir);
    return 0;
}

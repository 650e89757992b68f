/*
 * host/admin/loop.c — the admin thread's loop: poll the ROUTER socket
 * (its frames go to requests.c), the eventfd of ready inboxes and
 * finished loads, and the embedder's wake fd (what it means is the
 * embedder's: thespiand's signals are host/daemon/signals.c); spin
 * briefly for replies right after tells; read the monitor and probe idle
 * contexts on a tick; drive an orderly shutdown to its bound.
 */
#include <errno.h>
#include <zmq.h>

#include "host/admin/internal.h"

int
thi_admin_run(thi_admin_t *a, const thi_admin_wake_t *wake)
{
    int wake_fd = wake ? wake->fd : -1;
    int64_t next_probe = thi_adm_now_ms() + PROBE_EVERY_MS, next_monitor = 0;
    for (;;) {
        /* the monitor is read by the tick: it only feeds log lines and
         * early probes, and every polled ZeroMQ socket costs each turn */
        zmq_pollitem_t items[3] = {
            {a->sock, 0, ZMQ_POLLIN, 0},
            {NULL, a->efd, ZMQ_POLLIN, 0},
            {NULL, wake_fd, ZMQ_POLLIN, 0},
        };
        int n_items = wake_fd >= 0 ? 3 : 2;
        long wait = a->n_blocked ? 2 : 100;
        /* Spin only for replies still to come (nothing served since the
         * delivery), and only while spinning pays: after a spin that saw
         * nothing (tells that get no answer), skip the next 64 chances. */
        if (a->delivered && a->spin_skip > 0) {
            a->spin_skip--;
        } else if (a->delivered) {
            if (thi_adm_spin_for_ready(a, SPIN_NS)) {
                thi_adm_serve_ready(a, false);
                wait = 0; /* only look whether more came meanwhile */
            } else {
                a->spin_skip = 64;
            }
        }
        a->delivered = false;
        if (zmq_poll(items, n_items, wait) < 0 && zmq_errno() != EINTR) {
            th_log_internal(TH_LOG_ERROR, NULL, "admin: poll failed: %s",
                            zmq_strerror(zmq_errno()));
            thi_admin_stop(a, "poll failed");
        }
        if (wake_fd >= 0 && (items[2].revents & ZMQ_POLLIN))
            wake->fn(a, wake_fd, wake->arg); /* the embedder's meaning */
        if (items[0].revents & ZMQ_POLLIN)
            thi_adm_serve_socket(a, thi_adm_handle_frame);
        if (items[1].revents & ZMQ_POLLIN) {
            thi_adm_serve_ready(a, true);
            thi_adm_loads_serve(a);
        }
        int64_t now = thi_adm_now_ms();
        if (now >= next_monitor) {
            next_monitor = now + MONITOR_EVERY_MS;
            thi_adm_monitor_serve(a);
            thi_adm_refuse_roll(a, false);
        }
        bool probe = now >= next_probe || a->probe_now;
        if (probe) {
            next_probe = now + PROBE_EVERY_MS;
            if (a->probe_now) /* force: the dropped one must be probed */
                for (int b = 0; b < N_BUCKETS; b++)
                    for (session_t *s = a->buckets[b]; s; s = s->hnext)
                        s->last_seen_ms = 0;
            a->probe_now = false;
        }
        if (probe || a->n_blocked)
            thi_adm_tick(a, probe);
        thi_adm_log_roll(a, now / 1000); /* report what was suppressed */
        if (!a->stopping && th_system_is_stopping(a->sys))
            thi_admin_stop(a, "an actor asked the system to shut down");
        if (a->stopping) {
            int rc = th_system_stop(a->sys, 0);
            if (rc == 0 || thi_adm_now_ms() >= a->stop_deadline) {
                thi_adm_finish(a, rc);
                return rc;
            }
        }
    }
}

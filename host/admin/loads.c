/*
 * host/admin/loads.c — loads of signed bundles, each on a detached thread
 * of its own (verification and the Source Authority may take their time;
 * the admin thread keeps serving meanwhile). A finished load is listed
 * for the admin thread, woken through the eventfd, to answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/thread.h"
#include "host/admin/internal.h"

typedef struct load_job {
    struct load_job *next;
    struct thi_admin *a;
    unsigned char rid[256];
    size_t rid_len;
    json_int_t id;
    uint8_t *bytes;
    size_t len;
    bool allow_rollback;
    int rc;
    char hash[65];
    th_diag_t diag;
} load_job_t;

static void *
load_main(void *arg)
{
    load_job_t *j = arg;
    char what[64];
    snprintf(what, sizeof what, "bundle of %zu bytes", j->len);
    j->rc = th_system_load_source(j->a->sys, j->bytes, j->len, what,
                                  j->allow_rollback, j->hash, &j->diag);
    free(j->bytes);
    j->bytes = NULL;
    /* once listed, j belongs to the admin thread, which may free it */
    struct thi_admin *a = j->a;
    pthread_mutex_lock(&a->loads_lock);
    j->next = a->loads_done;
    a->loads_done = j;
    pthread_mutex_unlock(&a->loads_lock);
    uint64_t one = 1; /* wake the admin thread to answer */
    if (write(a->efd, &one, sizeof one) < 0)
        th_log_internal(TH_LOG_WARNING, NULL,
                        "admin: cannot wake the admin thread");
    atomic_fetch_sub(&a->loads_running, 1);
    return NULL;
}

int
thi_adm_load_start(struct thi_admin *a, const unsigned char *rid,
                   size_t rid_len, json_int_t id, const unsigned char *bundle,
                   size_t len, bool allow_rollback)
{
    load_job_t *j = calloc(1, sizeof *j);
    if (j)
        j->bytes = malloc(len);
    if (j == NULL || j->bytes == NULL || rid_len > sizeof j->rid) {
        if (j)
            free(j->bytes);
        free(j);
        return TH_ENOMEM;
    }
    j->a = a;
    memcpy(j->rid, rid, rid_len);
    j->rid_len = rid_len;
    j->id = id;
    memcpy(j->bytes, bundle, len);
    j->len = len;
    j->allow_rollback = allow_rollback;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&a->loads_running, 1);
    int rc = 0;
    if (thi_thread_start(&t, &attr, load_main, j) != 0) {
        atomic_fetch_sub(&a->loads_running, 1);
        free(j->bytes);
        free(j);
        rc = TH_EIO;
    }
    pthread_attr_destroy(&attr);
    return rc;
}

void
thi_adm_loads_serve(struct thi_admin *a)
{
    pthread_mutex_lock(&a->loads_lock);
    load_job_t *j = a->loads_done;
    a->loads_done = NULL;
    pthread_mutex_unlock(&a->loads_lock);
    while (j) {
        load_job_t *next = j->next;
        if (j->rc == 0)
            thi_adm_reply_ok(a, j->rid, j->rid_len, j->id,
                             json_pack("{s:s}", "source_hash", j->hash));
        else
            thi_adm_reply_err(a, j->rid, j->rid_len, j->id, j->rc, "%s",
                              j->diag.msg);
        free(j);
        j = next;
    }
}

void
thi_adm_loads_wait(struct thi_admin *a)
{
    while (atomic_load(&a->loads_running) > 0) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

void
thi_adm_loads_free(struct thi_admin *a)
{
    for (load_job_t *j = a->loads_done; j;) {
        load_job_t *next = j->next;
        free(j);
        j = next;
    }
    a->loads_done = NULL;
}

/*
 * host/admin/ops_source.c — the operations on signed sources: load (the
 * bundle is the payload; verified and loaded on a thread of its own,
 * loads.c), unload by hash prefix, and the list of loaded sources.
 */
#include <stdlib.h>
#include <string.h>

#include "host/admin/internal.h"

void
thi_adm_op_load(req_t *r)
{
    json_t *rb = json_object_get(r->hdr, "allow_rollback");
    if (rb && !json_is_boolean(rb)) {
        thi_adm_refuse(r, TH_EINVAL,
                       "load: \"allow_rollback\" must be true or false");
        return;
    }
    if (r->payload_len == 0) {
        thi_adm_refuse(r, TH_EINVAL,
                       "load: the payload must be the bundle's bytes");
        return;
    }
    int rc = thi_adm_load_start(r->a, r->rid, r->rid_len, r->id, r->payload,
                                r->payload_len, json_is_true(rb));
    if (rc == TH_ENOMEM)
        thi_adm_refuse(r, TH_ENOMEM, "load: out of memory");
    else if (rc != 0)
        thi_adm_refuse(r, TH_EIO, "load: cannot start a thread");
}

void
thi_adm_op_unload(req_t *r)
{
    bool bad = false;
    const char *h = thi_adm_opt_string(r, "source_hash", &bad);
    if (h == NULL || bad) {
        thi_adm_refuse(r, TH_EINVAL,
                       "unload: \"source_hash\" must be a string");
        return;
    }
    char full[65];
    th_diag_t d = {0};
    int rc = th_system_unload_source(r->a->sys, h, full, &d);
    if (rc != 0)
        thi_adm_refuse(r, rc, "%s", d.msg);
    else
        thi_adm_reply_ok(r->a, r->rid, r->rid_len, r->id,
                         json_pack("{s:s}", "source_hash", full));
}

void
thi_adm_op_sources(req_t *r)
{
    char *text = NULL;
    int rc = th_system_sources_json(r->a->sys, &text);
    if (rc != 0) {
        thi_adm_refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
    thi_adm_send_result(r->a, r->rid, r->rid_len, r->id,
                        json_pack("{s:i}", "code", 0), text, strlen(text));
    free(text);
}

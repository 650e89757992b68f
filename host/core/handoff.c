/*
 * host/core/handoff.c — handoff (hot swap): export the old holder's state, import it into
 * the new holder, forward from then on.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/core/core_int.h"
#include "proto/wire.h"

/* ---- Handoff (hot swap) -------------------------------------------------------- */

int
thi_handoff(struct th_system *sys, const th_addr_t *from, const th_addr_t *to,
            const th_addr_t *requester)
{
    if (!thi_addr_live(sys, to))
        return TH_EDEAD;
    thi_handoff_args_t a = {*to, requester ? *requester : (th_addr_t){{0}}};
    return thi_send_internal(sys, from, THI_ENV_HANDOFF, &a, sizeof a, NULL, 0);
}

/* In the old holder's context, after everything queued before: export,
 * queue the state as the new holder's next message, forward from now on,
 * and tell the requester. */
void
thi_handle_handoff(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    thi_handoff_args_t a;
    memcpy(&a, env->in.bytes, sizeof a);
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    bool exported = false;
    bool forwarding = slot->ext && slot->ext->forwarding;
    bool nocode = (slot->flags & THI_SLOT_NOCODE) != 0; /* has no state */
    if (cls->export_state && !forwarding && !nocode) {
        th_buf_t *buf = NULL;
        ctx->cur = NULL;
        int rc = cls->export_state(ctx, slot->state, &buf);
        if (rc < 0 || buf == NULL) {
            if (rc < 0)
                thi_log(TH_LOG_WARNING, &self,
                        "export_state of %s failed: %s; the new version "
                        "starts fresh",
                        cls->qname, th_strerror(rc));
            if (buf)
                thi_payload_release((thi_payload_t *)(void *)buf);
        } else {
            thi_env_t *imp;
            if (thi_env_from_payload(&imp, thi_type_builtin("th.internal"),
                                     (thi_payload_t *)(void *)buf) == 0) {
                imp->kind = THI_ENV_IMPORT;
                imp->system = 1;
                imp->msg.sender = self;
                exported = thi_deliver(ctx->sys, &a.to, imp) == 0;
            } else {
                thi_payload_release((thi_payload_t *)(void *)buf);
            }
        }
    }
    thi_slot_ext_t *e = thi_slot_ext(slot);
    if (e) {
        e->forward = a.to;
        e->forwarding = true;
    }
    if (!th_addr_is_null(&a.requester)) {
        char f[TH_ADDR_STRLEN], t[TH_ADDR_STRLEN], body[200];
        thi_wire_addr_format(&self, f, sizeof f);
        thi_wire_addr_format(&a.to, t, sizeof t);
        int n = snprintf(body, sizeof body,
                         "{\"from\":\"%s\",\"to\":\"%s\",\"exported\":%s}",
                         f, t, exported ? "true" : "false");
        thi_send_system(ctx->sys, &self, &a.requester, TH_MSG_HANDOFF_DONE,
                        body, (size_t)n);
    }
}

void
thi_handle_import(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->import_state == NULL || (slot->flags & THI_SLOT_NOCODE))
        return;
    ctx->cur = NULL;
    int rc = cls->import_state(ctx, slot->state, env->msg.data, env->msg.len);
    if (rc < 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_WARNING, &self,
                "import_state of %s refused the handed-over state: %s",
                cls->qname, th_strerror(rc));
    }
}


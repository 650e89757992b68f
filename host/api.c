/*
 * host/api.c — the function table behind th_ctx_t: every host service a
 * plugin can reach. The functions are static so no plugin can bind to them
 * by name; they check the context's magic at the boundary.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/sources.h"
#include "host/features/features.h"
#include "proto/wire.h"

static th_ctx_t *
checked(th_ctx_t *ctx)
{
    /* a bad ctx is a plugin bug, not input: stop loudly */
    assert(ctx != NULL && ctx->pub.magic == THI_CTX_MAGIC);
    assert(ctx->slot != NULL);
    return ctx;
}

static void
api_my_address(th_ctx_t *ctx, th_addr_t *out)
{
    checked(ctx);
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, out);
}

static void
api_system_address(th_ctx_t *ctx, th_addr_t *out)
{
    checked(ctx);
    th_system_address_of(ctx->sys, out);
}

/* *out NULL: a name the type table does not hold (see thi_type_for_send);
 * such a name is never reserved. */
static int
user_type(th_ctx_t *ctx, const thi_type_t **out, const char *type)
{
    int rc = thi_type_for_send(out, type, THI_TYPE_ACTOR);
    if (rc != 0)
        return rc;
    if (*out && ((*out)->flags & THI_TYPE_RESERVED)) {
        th_addr_t self;
        thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
        thi_log(TH_LOG_WARNING, &self,
                "refused to send reserved message type %s", type);
        return TH_ERESERVED;
    }
    return 0;
}

/* Both kinds of actor send: to an address, or to a name's holder. */
static int
actor_send(th_ctx_t *ctx, const th_addr_t *to, const char *name,
           const char *type, const void *data, size_t len)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    int rc = thi_send_user(ctx->sys, &self, to, name, type, data, len,
                           THI_TYPE_ACTOR);
    if (rc == TH_ERESERVED)
        thi_log(TH_LOG_WARNING, &self,
                "refused to send reserved message type %s", type);
    return rc;
}

static int
api_send(th_ctx_t *ctx, const th_addr_t *to, const char *type,
         const void *data, size_t len)
{
    return to ? actor_send(ctx, to, NULL, type, data, len) : TH_EINVAL;
}

static int
api_buf_alloc(th_ctx_t *ctx, th_buf_t **out, size_t len, void **data)
{
    checked(ctx);
    if (out == NULL || data == NULL)
        return TH_EINVAL;
    if (len > ctx->sys->opts.max_payload)
        return TH_ETOOBIG;
    thi_payload_t *p;
    int rc = thi_payload_alloc(&p, len);
    if (rc != 0)
        return rc;
    *out = (th_buf_t *)(void *)p;
    *data = p->data;
    return 0;
}

static void
api_buf_free(th_ctx_t *ctx, th_buf_t **buf)
{
    (void)ctx;
    if (buf && *buf) {
        thi_payload_release((thi_payload_t *)(void *)*buf);
        *buf = NULL;
    }
}

static int
api_send_buf(th_ctx_t *ctx, const th_addr_t *to, const char *type,
             th_buf_t **buf)
{
    checked(ctx);
    if (to == NULL || buf == NULL || *buf == NULL)
        return TH_EINVAL;
    const thi_type_t *t;
    int rc = user_type(ctx, &t, type);
    if (rc != 0)
        return rc;
    thi_env_t *env;
    thi_payload_t *p = (thi_payload_t *)(void *)*buf;
    if (t == NULL) {
        /* the name must travel with the message: a copy that holds both
         * (rare: only past the actors' quota of new type names) */
        rc = thi_env_new_named(&env, type, p->data, p->len);
        if (rc != 0)
            return rc;
        thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce,
                      &env->msg.sender);
        rc = thi_deliver(ctx->sys, to, env);
        if (rc == TH_EFULL) {
            thi_env_free(env); /* the caller keeps the buffer */
            return rc;
        }
        thi_payload_release(p);
        *buf = NULL;
        return rc;
    }
    rc = thi_env_from_payload(&env, t, p);
    if (rc != 0)
        return rc;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &env->msg.sender);
    rc = thi_deliver(ctx->sys, to, env);
    if (rc == TH_EFULL) {
        env->ext = NULL; /* the caller keeps the buffer to retry or free */
        thi_env_free(env);
        return rc;
    }
    *buf = NULL;
    return rc;
}

static int
api_forward(th_ctx_t *ctx, const th_addr_t *to, const th_msg_t *msg)
{
    checked(ctx);
    if (to == NULL || ctx->cur == NULL || msg != &ctx->cur->msg)
        return TH_EINVAL; /* only the message being handled can be shared */
    const thi_type_t *t = NULL;
    int rc = 0;
    /* a carried name stays carried: forwarding does not intern it */
    if (!ctx->cur->type_owned)
        rc = user_type(ctx, &t, msg->type);
    if (rc != 0)
        return rc;
    thi_env_t *env;
    rc = thi_env_share(&env, t, ctx->cur);
    if (rc != 0)
        return rc;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &env->msg.sender);
    rc = thi_deliver(ctx->sys, to, env);
    if (rc == TH_EFULL)
        thi_env_free(env);
    return rc;
}

static int
api_create(th_ctx_t *ctx, th_addr_t *out, const char *class_name,
           const th_create_opts_t *opts)
{
    checked(ctx);
    return thi_create(ctx->sys, ctx, out, class_name, opts, NULL);
}

static int
api_wakeup_after(th_ctx_t *ctx, uint32_t ms, const void *data, size_t len)
{
    checked(ctx);
    if (data == NULL && len > 0)
        return TH_EINVAL;
    if (len > ctx->sys->opts.max_payload)
        return TH_ETOOBIG;
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    return thi_timer_add(thi_sys_timers(ctx->sys), &self, ms, data, len);
}

static int
api_become(th_ctx_t *ctx, th_receive_fn fn)
{
    checked(ctx);
    ctx->slot->become = fn;
    return 0;
}

static int
api_handle_dead_letters(th_ctx_t *ctx, bool on)
{
    checked(ctx);
    return thi_dead_letters_handle(ctx->sys, ctx->slot, on);
}

static int
api_system_shutdown(th_ctx_t *ctx)
{
    checked(ctx);
    thi_request_shutdown(ctx->sys);
    return 0;
}

static int
api_fail(th_ctx_t *ctx, const char *reason)
{
    checked(ctx);
    snprintf(ctx->fail_reason, sizeof ctx->fail_reason, "%s",
             reason ? reason : "failed");
    ctx->failed_reason_set = true;
    return TH_EFAIL;
}

static void
api_log(th_ctx_t *ctx, int level, const char *fmt, va_list ap)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    thi_actor_vlog(level, &self, fmt, ap);
}

static uint32_t
api_restart_count(th_ctx_t *ctx)
{
    checked(ctx);
    return ctx->slot->n_restarts;
}

static int
api_load_source(th_ctx_t *ctx, const void *bundle, size_t len,
                char hash_out[65])
{
    checked(ctx);
    if (bundle == NULL || hash_out == NULL)
        return TH_EINVAL;
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    th_diag_t d = {0};
    int rc = thi_source_request(ctx->sys, &self, bundle, len, false, hash_out,
                                NULL, &d);
    if (rc < 0)
        thi_log(TH_LOG_WARNING, &self, "load refused: %s", d.msg);
    return rc < 0 ? rc : 0; /* 1: loaded already */
}

static int
api_unload_source(th_ctx_t *ctx, const char *hash)
{
    checked(ctx);
    char full[65];
    th_diag_t d = {0};
    int rc = thi_source_unload(ctx->sys, hash ? hash : "", full, &d);
    if (rc)
        thi_log(TH_LOG_WARNING, NULL, "unload refused: %s", d.msg);
    return rc;
}

static int
api_register_source_authority(th_ctx_t *ctx)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    return thi_source_register_authority(ctx->sys, &self,
                                         atomic_load(&ctx->slot->cls));
}

static int
api_notify_source_availability(th_ctx_t *ctx, bool on)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    return thi_source_watch(ctx->sys, &self, on);
}

static int
api_send_name(th_ctx_t *ctx, const char *name, const char *type,
              const void *data, size_t len)
{
    return name ? actor_send(ctx, NULL, name, type, data, len) : TH_EINVAL;
}

static int
api_rebind_name(th_ctx_t *ctx, const char *name, const th_addr_t *to)
{
    checked(ctx);
    return thi_rebind_name(ctx->sys, name, to);
}

static int
api_handoff(th_ctx_t *ctx, const th_addr_t *from, const th_addr_t *to)
{
    checked(ctx);
    if (from == NULL || to == NULL)
        return TH_EINVAL;
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    return thi_handoff(ctx->sys, from, to, &self);
}

/* ---- 1.1 ---- */

static int
api_update_capability(th_ctx_t *ctx, const char *name, const char *value_json)
{
    checked(ctx);
    th_diag_t d = {0};
    int rc = thi_caps_update(ctx->sys, name, value_json, &d);
    if (rc != 0) {
        th_addr_t self;
        thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
        thi_log(TH_LOG_WARNING, &self, "updateCapability: %s", d.msg);
    }
    return rc;
}

static int
api_capabilities(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    checked(ctx);
    char *text = NULL;
    int rc = thi_caps_json(ctx->sys, &text);
    if (rc != 0)
        return rc;
    size_t n = strlen(text) + 1;
    if (needed)
        *needed = n;
    if (buf == NULL || size < n) {
        free(text);
        return TH_ELIMIT;
    }
    memcpy(buf, text, n);
    free(text);
    return 0;
}

static int
api_watch_fds(th_ctx_t *ctx, const int *fds, size_t n)
{
    checked(ctx);
    return thi_watch_set(ctx, fds, n);
}

static int
api_timer_start(th_ctx_t *ctx, uint64_t *id_out, int64_t delay_ms,
                int64_t period_ms, const void *data, size_t len)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    int rc = thi_timer_start(ctx->sys, &self, delay_ms, period_ms, data, len,
                             id_out);
    if (rc == TH_EINVAL)
        thi_log(TH_LOG_WARNING, &self,
                "timer_start: delay_ms %lld / period_ms %lld: each must be "
                "0..%lld (and data non-NULL when len > 0)",
                (long long)delay_ms, (long long)period_ms,
                (long long)THI_TIMER_MAX_MS);
    return rc;
}

static int
api_timer_cancel(th_ctx_t *ctx, uint64_t id)
{
    checked(ctx);
    th_addr_t self;
    thi_slot_addr(ctx->sys, ctx->slot, ctx->slot->live_nonce, &self);
    return thi_timer_cancel(ctx->sys, &self, id);
}

static uint64_t
api_timer_id(th_ctx_t *ctx)
{
    checked(ctx);
    return ctx->msg_tag;
}

static int
api_work_in_progress(th_ctx_t *ctx, bool on)
{
    checked(ctx);
    return thi_troupe_wip(ctx, on);
}

static int
api_supervise(th_ctx_t *ctx, const th_supervision_t *sup)
{
    checked(ctx);
    return thi_sup_set(ctx, sup);
}

/* Copy `text` (NUL included) out to a plugin's buffer, as capabilities. */
static int
copy_out(const char *text, char *buf, size_t size, size_t *needed)
{
    size_t n = strlen(text) + 1;
    if (needed)
        *needed = n;
    if (buf == NULL || size < n)
        return TH_ELIMIT;
    memcpy(buf, text, n);
    return 0;
}

static int
api_global_name(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    checked(ctx);
    thi_slot_t *slot = ctx->slot;
    if (slot == NULL || slot->kind != THI_SLOT_ACTOR || slot->u.name == NULL) {
        if (needed)
            *needed = 0;
        return TH_ENOENT;
    }
    return copy_out(slot->u.name, buf, size, needed);
}

static int
api_requirements(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    checked(ctx);
    const char *r = NULL;
    if (ctx->slot && ctx->slot->kind == THI_SLOT_ACTOR)
        r = thi_caps_slot_requirements(ctx->slot);
    return copy_out(r ? r : "{}", buf, size, needed);
}

const struct th_host_api thi_host_api = {
    .minor = TH_ABI_MINOR,
    .size = sizeof(struct th_host_api),
    .my_address = api_my_address,
    .system_address = api_system_address,
    .send = api_send,
    .buf_alloc = api_buf_alloc,
    .buf_free = api_buf_free,
    .send_buf = api_send_buf,
    .forward = api_forward,
    .create = api_create,
    .wakeup_after = api_wakeup_after,
    .become = api_become,
    .handle_dead_letters = api_handle_dead_letters,
    .system_shutdown = api_system_shutdown,
    .fail = api_fail,
    .log = api_log,
    .addr_format = thi_wire_addr_format,
    .addr_parse = th_addr_from_string,
    .restart_count = api_restart_count,
    .load_source = api_load_source,
    .unload_source = api_unload_source,
    .register_source_authority = api_register_source_authority,
    .notify_source_availability = api_notify_source_availability,
    .send_name = api_send_name,
    .rebind_name = api_rebind_name,
    .handoff = api_handoff,
    .update_capability = api_update_capability,
    .capabilities = api_capabilities,
    .watch_fds = api_watch_fds,
    .timer_start = api_timer_start,
    .timer_cancel = api_timer_cancel,
    .timer_id = api_timer_id,
    .work_in_progress = api_work_in_progress,
    .supervise = api_supervise,
    .global_name = api_global_name,
    .requirements = api_requirements,
};

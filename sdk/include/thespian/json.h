/*
 * thespian/json.h — JSON payload helpers for plugins (jansson). JSON is the
 * format for anything that crosses a source boundary, the admin endpoint or
 * the network. Header-only: a plugin using it links against jansson, never
 * against the host.
 */
#ifndef TH_SDK_JSON_H
#define TH_SDK_JSON_H

#include <jansson.h>

#include "thespian/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse the payload of `msg` as JSON. Returns a new reference (release with
 * json_decref) or NULL when the payload is not valid JSON. Thread-safe. */
static inline json_t *
th_msg_json(const th_msg_t *msg)
{
    return json_loadb((const char *)msg->data, msg->len,
                      JSON_REJECT_DUPLICATES, NULL);
}

/* Serialise `value` (borrowed) and send it. Returns as th_send, or
 * TH_ENOMEM / TH_EINVAL when it cannot be serialised. */
static inline int
th_send_json(th_ctx_t *ctx, const th_addr_t *to, const char *type,
             const json_t *value)
{
    size_t n = json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0)
        return TH_EINVAL;
    th_buf_t *buf = NULL;
    void *data = NULL;
    int rc = th_buf_alloc(ctx, &buf, n, &data);
    if (rc != 0)
        return rc;
    if (json_dumpb(value, (char *)data, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
        th_buf_free(ctx, &buf);
        return TH_EINVAL;
    }
    rc = th_send_buf(ctx, to, type, &buf);
    th_buf_free(ctx, &buf); /* no-op when sent */
    return rc;
}

/* Like th_send_json, but takes the reference to `value`. */
static inline int
th_send_json_new(th_ctx_t *ctx, const th_addr_t *to, const char *type,
                 json_t *value)
{
    if (value == NULL)
        return TH_ENOMEM;
    int rc = th_send_json(ctx, to, type, value);
    json_decref(value);
    return rc;
}

#ifdef __cplusplus
}
#endif
#endif /* TH_SDK_JSON_H */

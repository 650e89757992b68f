/*
 * director/authority.c — the Director's Source Authority, a plugin class
 * ("director.SourceAuthority") that thespiand creates at start; the
 * runtime admits no other actor as authority (host.h, authority_class).
 * The host has already verified every bundle against its trusted keys
 * before it asks (ValidateSource), and the authority cannot widen that:
 * it may only refuse. This one adds no policy of its own: it accepts what
 * reaches it from the system, refuses what anyone else asks, and counts
 * (Status). It reads no key and takes no configuration from messages.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct authority {
    long checked, accepted;
} authority_t;

static int
authority_init(th_ctx_t *ctx, void *state)
{
    (void)state;
    return th_register_source_authority(ctx);
}

static int
answer(th_ctx_t *ctx, const th_msg_t *msg, const char *hash, bool valid,
       const char *reason, const char *key)
{
    json_t *o = json_pack("{s:s, s:b, s:s, s:s}", "sourceHash", hash, "valid",
                          valid, "reason", reason, "key", key);
    int rc = th_send_json_new(ctx, &msg->sender, TH_MSG_VALIDATED_SOURCE, o);
    if (rc != 0)
        th_log(ctx, TH_LOG_ERROR, "ValidatedSource not delivered: %s",
               th_strerror(rc));
    return 0; /* a verdict that cannot be sent is not this actor failing */
}

/* The source hash ValidateSource names in its first line (actor.h,
 * TH_VALIDATE_SOURCE_HEADER): the host hashed the bundle while verifying
 * it, and this authority can only refuse, so taking its word costs no
 * safety. The host always sends that line; false (hex empty) without it. */
static bool
source_hash(const th_msg_t *msg, char hex[65])
{
    const char *b = msg->data;
    bool named = msg->len >= TH_VALIDATE_SOURCE_HEADER && b[64] == '\n';
    for (size_t i = 0; named && i < 64; i++)
        named = (b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f');
    if (named)
        memcpy(hex, b, 64);
    hex[named ? 64 : 0] = '\0';
    return named;
}

static int
on_validate(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    authority_t *st = state;
    char hex[65];
    st->checked++;
    bool named = source_hash(msg, hex);
    /* only the system asks a real question; anyone else gets a no */
    th_addr_t sys = th_system_address(ctx);
    if (!th_addr_eq(&msg->sender, &sys))
        return answer(ctx, msg, hex, false,
                      "ValidateSource is answered for the system only", "");
    if (!named)
        return answer(ctx, msg, hex, false,
                      "ValidateSource does not start with the source hash "
                      "line", "");
    st->accepted++;
    th_log(ctx, TH_LOG_INFO, "source %.12s: accepted (verified by the host)",
           hex);
    return answer(ctx, msg, hex, true, "", "");
}

static int
on_other(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    authority_t *st = state;
    if (strcmp(msg->type, "Status") == 0 && !th_addr_is_null(&msg->sender))
        th_send_json_new(ctx, &msg->sender, "AuthorityStatus",
                         json_pack("{s:I, s:I}", "checked",
                                   (json_int_t)st->checked, "accepted",
                                   (json_int_t)st->accepted));
    return 0;
}

static const th_dispatch_t authority_dispatch[] = {
    {TH_MSG_VALIDATE_SOURCE, on_validate},
};

static const th_class_t source_authority = {
    .size = sizeof(th_class_t),
    .name = "SourceAuthority",
    .state_size = sizeof(authority_t),
    .init = authority_init,
    .receive = on_other,
    .dispatch = authority_dispatch,
    .n_dispatch = 1,
};

/* director/director.c: the Director actor, in the same plugin */
extern const th_class_t thi_director_class;

TH_PLUGIN_DEFINE(director, &source_authority, &thi_director_class);

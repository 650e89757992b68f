/*
 * director/authority.c — the Director's Source Authority, a plugin
 * ("director.SourceAuthority") like any other: any actor may be the
 * authority, this is the one `thespian start` installs. It registers itself
 * at start; for each ValidateSource it reads every *_tls.key in the
 * director directory afresh (keys added or removed take effect without a
 * restart), verifies the bundle's signature on its raw bytes, and answers
 * ValidatedSource. The directory comes from a Configure message, else from
 * $THESPIAN_DIRECTOR_DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/bundle.h"
#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct authority {
    char dir[4096];
    long checked, accepted;
} authority_t;

static int
authority_init(th_ctx_t *ctx, void *state)
{
    authority_t *st = state;
    const char *dir = getenv("THESPIAN_DIRECTOR_DIR");
    snprintf(st->dir, sizeof st->dir, "%s", dir ? dir : "");
    return th_register_source_authority(ctx);
}

static void
log_lines(th_ctx_t *ctx, char *text)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        th_log(ctx, TH_LOG_WARNING, "%s", line);
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

static int
on_validate(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    authority_t *st = state;
    char hex[65] = "";
    st->checked++;
    if (st->dir[0] == '\0' || msg->len == 0) {
        uint8_t h[32]; /* a refusal still names the source */
        thi_sha256(h, msg->data, msg->len);
        thi_hex(hex, h, 32);
        return answer(ctx, msg, hex, false,
                      msg->len ? "the Source Authority has no director "
                                 "directory"
                               : "empty bundle",
                      "");
    }
    thi_keyring_t *kr = NULL;
    char *warnings = NULL;
    th_diag_t d = {0};
    int rc = thi_keyring_load_dir(&kr, st->dir, &warnings, &d);
    if (warnings)
        log_lines(ctx, warnings);
    free(warnings);
    /* one pass gives the source hash and the signed digest together */
    thi_verified_t v;
    if (rc == 0)
        rc = thi_bundle_verify(&v, msg->data, msg->len, kr, "bundle", &d);
    thi_keyring_destroy(kr);
    if (rc != 0) {
        uint8_t h[32];
        thi_sha256(h, msg->data, msg->len);
        thi_hex(hex, h, 32);
        th_log(ctx, TH_LOG_WARNING, "source %.12s refused: %s", hex, d.msg);
        return answer(ctx, msg, hex, false, d.msg, "");
    }
    memcpy(hex, v.source_hex, sizeof hex);
    st->accepted++;
    th_log(ctx, TH_LOG_INFO, "source %.12s: signature valid (key %s)", hex,
           v.key_name);
    return answer(ctx, msg, hex, true, "", v.key_name);
}

static int
on_configure(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    authority_t *st = state;
    json_t *o = th_msg_json(msg);
    const char *dir = json_string_value(json_object_get(o, "directorDir"));
    if (dir && strlen(dir) < sizeof st->dir)
        snprintf(st->dir, sizeof st->dir, "%s", dir);
    else
        th_log(ctx, TH_LOG_WARNING,
               "Configure needs {\"directorDir\": PATH} (under 4096 bytes)");
    json_decref(o);
    if (!th_addr_is_null(&msg->sender))
        th_send_json_new(ctx, &msg->sender, "Configured",
                         json_pack("{s:s}", "directorDir", st->dir));
    return 0;
}

static int
on_other(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    authority_t *st = state;
    if (strcmp(msg->type, "Status") == 0 && !th_addr_is_null(&msg->sender))
        th_send_json_new(ctx, &msg->sender, "AuthorityStatus",
                         json_pack("{s:s, s:I, s:I}", "directorDir", st->dir,
                                   "checked", (json_int_t)st->checked,
                                   "accepted", (json_int_t)st->accepted));
    return 0;
}

static const th_dispatch_t authority_dispatch[] = {
    {TH_MSG_VALIDATE_SOURCE, on_validate},
    {"Configure", on_configure},
};

static const th_class_t source_authority = {
    .size = sizeof(th_class_t),
    .name = "SourceAuthority",
    .state_size = sizeof(authority_t),
    .init = authority_init,
    .receive = on_other,
    .dispatch = authority_dispatch,
    .n_dispatch = 2,
};

/* director/director.c: the Director actor, in the same plugin */
extern const th_class_t thi_director_class;

TH_PLUGIN_DEFINE(director, &source_authority, &thi_director_class);

/*
 * tests/plugins/supactors.c — supactors.so: a supervising parent and a
 * child with state, for tests/unit/supervise.c. Bodies are JSON.
 *
 *   SupParent  Make {"n": N, "cls"?: C, "sup"?: SUP, "unset"?: B,
 *                    "child_sup"?: SUP}
 *                -> Made {"rc": th_supervise's rc, "create_rc": RC, "n": K,
 *                         "addrs": [the new children's addresses]}
 *              sets its strategy with th_supervise(sup) (or NULL when
 *              "unset"), then creates N children of class C (default
 *              supactors.SupChild), with opts.supervision = child_sup when
 *              given; the sender of Make becomes its watcher.
 *              SUP = {"strategy", "directive", "max_restarts", "window_ms",
 *              "backoff_ms", "max_backoff_ms", "size"?, "decider"?: true}.
 *              Fwd {"i": I, "type": T, "body"?: B} sends T B to child I.
 *              Status -> ParentStatus {"restarts": N, "n": children known}.
 *              Anything else (a child's reply, PoisonMessage,
 *              ChildActorExited...) goes to the watcher as Relayed
 *              {"type": T, "i": child index or -1, "body": B}.
 *   SupChild   inc: count++; get {"seq"?} -> Got {"count", "restarts",
 *              "seq"}; boom, stop, odd, esc, bad fail ("<type> requested").
 *   The decider maps boom/stop/odd/esc to restart/stop/resume/escalate and
 *   bad to 42 (not a directive: the runtime falls back to "directive").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

#define MAX_CHILDREN 16

static int
decide(const char *type, const char *reason)
{
    (void)reason;
    if (strcmp(type, "boom") == 0)
        return TH_SUP_RESTART;
    if (strcmp(type, "stop") == 0)
        return TH_SUP_STOP;
    if (strcmp(type, "odd") == 0)
        return TH_SUP_RESUME;
    if (strcmp(type, "esc") == 0)
        return TH_SUP_ESCALATE;
    return 42;
}

static uint32_t
field(json_t *o, const char *key, uint32_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (uint32_t)json_integer_value(v) : dflt;
}

static void
sup_from_json(json_t *o, th_supervision_t *s)
{
    memset(s, 0, sizeof *s);
    s->size = field(o, "size", sizeof *s);
    s->strategy = field(o, "strategy", 0);
    s->directive = field(o, "directive", 0);
    s->max_restarts = field(o, "max_restarts", 0);
    s->window_ms = field(o, "window_ms", 0);
    s->backoff_ms = field(o, "backoff_ms", 0);
    s->max_backoff_ms = field(o, "max_backoff_ms", 0);
    if (json_is_true(json_object_get(o, "decider")))
        s->decider = decide;
}

/* ---- SupParent ---- */
typedef struct {
    th_addr_t watcher;
    th_addr_t child[MAX_CHILDREN];
    int n;
} parent_t;

static int
parent_make(th_ctx_t *ctx, parent_t *st, const th_msg_t *msg)
{
    json_t *o = th_msg_json(msg);
    st->watcher = msg->sender;
    int rc = 0, create_rc = 0;
    json_t *sup = json_object_get(o, "sup");
    if (json_is_object(sup)) {
        th_supervision_t s;
        sup_from_json(sup, &s);
        rc = th_supervise(ctx, &s);
    } else if (json_is_true(json_object_get(o, "unset"))) {
        rc = th_supervise(ctx, NULL);
    }
    th_supervision_t cs;
    th_create_opts_t opts = {.size = sizeof opts};
    json_t *child_sup = json_object_get(o, "child_sup");
    if (json_is_object(child_sup)) {
        sup_from_json(child_sup, &cs);
        opts.supervision = &cs;
    }
    const char *cls = json_string_value(json_object_get(o, "cls"));
    int n = (int)field(o, "n", 0), made = 0;
    json_t *addrs = json_array();
    for (int i = 0; i < n && st->n < MAX_CHILDREN; i++) {
        th_addr_t a;
        create_rc = th_create(ctx, &a, cls ? cls : "supactors.SupChild",
                              &opts);
        if (create_rc != 0)
            break;
        st->child[st->n++] = a;
        made++;
        char text[TH_ADDR_STRLEN];
        th_addr_format(ctx, &a, text, sizeof text);
        json_array_append_new(addrs, json_string(text));
    }
    json_decref(o);
    return th_send_json_new(ctx, &msg->sender, "Made",
                            json_pack("{s:i, s:i, s:i, s:o}", "rc", rc,
                                      "create_rc", create_rc, "n", made,
                                      "addrs", addrs));
}

static int
parent_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    parent_t *st = state;
    if (strcmp(msg->type, "Make") == 0)
        return parent_make(ctx, st, msg);
    if (strcmp(msg->type, "Fwd") == 0) {
        json_t *o = th_msg_json(msg);
        int i = (int)field(o, "i", 0);
        const char *type = json_string_value(json_object_get(o, "type"));
        json_t *body = json_object_get(o, "body");
        if (i >= 0 && i < st->n && type)
            th_send_json_new(ctx, &st->child[i], type,
                             body ? json_incref(body) : json_object());
        json_decref(o);
        return 0;
    }
    if (strcmp(msg->type, "Status") == 0)
        return th_send_json_new(ctx, &msg->sender, "ParentStatus",
                                json_pack("{s:i, s:i}", "restarts",
                                          (int)th_restart_count(ctx), "n",
                                          st->n));
    if (strcmp(msg->type, TH_MSG_EXIT_REQUEST) == 0 ||
        th_addr_is_null(&st->watcher))
        return 0;
    int idx = -1;
    for (int i = 0; i < st->n; i++)
        if (th_addr_eq(&st->child[i], &msg->sender))
            idx = i;
    json_t *body = th_msg_json(msg);
    if (body == NULL)
        body = json_stringn((const char *)msg->data, msg->len);
    return th_send_json_new(ctx, &st->watcher, "Relayed",
                            json_pack("{s:s, s:i, s:o}", "type", msg->type,
                                      "i", idx, "body", body));
}

static const th_class_t sup_parent = {
    .size = sizeof(th_class_t), .name = "SupParent",
    .state_size = sizeof(parent_t), .receive = parent_receive,
};

/* ---- SupChild ---- */
typedef struct { int count; } child_t;

static int
child_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    child_t *st = state;
    if (strcmp(msg->type, "inc") == 0) {
        st->count++;
        return 0;
    }
    if (strcmp(msg->type, "get") == 0) {
        json_t *o = th_msg_json(msg);
        int seq = (int)field(o, "seq", 0);
        json_decref(o);
        return th_send_json_new(ctx, &msg->sender, "Got",
                                json_pack("{s:i, s:i, s:i}", "count",
                                          st->count, "restarts",
                                          (int)th_restart_count(ctx), "seq",
                                          seq));
    }
    static const char *const fails[] = {"boom", "stop", "odd", "esc", "bad"};
    for (size_t i = 0; i < sizeof fails / sizeof *fails; i++)
        if (strcmp(msg->type, fails[i]) == 0) {
            char why[32];
            snprintf(why, sizeof why, "%s requested", fails[i]);
            return th_fail(ctx, why);
        }
    return 0;
}

static const th_class_t sup_child = {
    .size = sizeof(th_class_t), .name = "SupChild",
    .state_size = sizeof(child_t), .receive = child_receive,
};

TH_PLUGIN_DEFINE(supactors, &sup_parent, &sup_child);

/*
 * director/director.c — the Director actor ("director.Director", global
 * name "Director"). It watches sources come and go and runs each group's
 * TLI: the newest loaded version of a group is active. Activating a newer
 * version creates its actors, waits until every one has started (a failure
 * aborts and leaves the old version active), then for each role hands the
 * old actor's state and queue to the new one (th_handoff), moves the global
 * name only once that is done (th_rebind_name), sends OnLoad, retires the
 * old actor and, with AutoUnload, its source. Requests addressed to the
 * name (or to "role:ROLE", which the Director keeps like a global name) are
 * never lost: they reach the old actor (which answers or forwards them) or
 * the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/version.h"
#include "thespian/actor.h"
#include "thespian/json.h"

/* state: one JSON document, owned by this actor's own (namespace) jansson.
 * groups: {G: {"versions": {H: {"version": V, "tli": T}}, "active": H,
 *              "actors": [A], "incoming": [A], "activating": H,
 *              "reactivate": B, "handoffs": N, "error": S}}
 * A = {"class", "role", "name", "addr", "ready"} */
typedef struct director {
    json_t *groups;
} director_t;

static int
director_init(th_ctx_t *ctx, void *state)
{
    director_t *d = state;
    d->groups = json_object();
    if (d->groups == NULL)
        return TH_ENOMEM;
    return th_notify_source_availability(ctx, true);
}

static void
director_teardown(th_ctx_t *ctx, void *state)
{
    director_t *d = state;
    json_decref(d->groups);
    d->groups = NULL;
}

static json_t *
group_of(director_t *d, const char *g)
{
    json_t *grp = json_object_get(d->groups, g);
    if (grp == NULL) {
        grp = json_pack("{s:{}, s:n, s:[], s:[], s:n, s:b, s:i}", "versions",
                        "active", "actors", "incoming", "activating",
                        "reactivate", 0, "handoffs", 0);
        json_object_set_new(d->groups, g, grp);
    }
    return grp;
}

static const char *
str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The lifecycle message named `field` of a TLI actor entry, if any. */
static void
send_lifecycle(th_ctx_t *ctx, json_t *tli_actor, const char *field,
               const th_addr_t *to)
{
    json_t *m = json_object_get(json_object_get(tli_actor, field), "Message");
    const char *type = str(m, "type");
    if (type == NULL)
        return;
    json_t *body = json_object_get(m, "body");
    int rc = th_send_json(ctx, to, type, body ? body : json_null());
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "%s %s not delivered: %s", field, type,
               th_strerror(rc));
}

/* Point the actor's names at `to`: its GlobalName and "role:ROLE", so a
 * request addressed to either is resolved and queued in one step. */
static void
bind_names(th_ctx_t *ctx, json_t *a, const th_addr_t *to)
{
    if (str(a, "name"))
        th_rebind_name(ctx, str(a, "name"), to);
    if (str(a, "role")) {
        char rn[300];
        snprintf(rn, sizeof rn, "role:%.250s", str(a, "role"));
        th_rebind_name(ctx, rn, to);
    }
}

static json_t *
tli_of(json_t *grp, const char *hash)
{
    return json_object_get(json_object_get(json_object_get(grp, "versions"),
                                           hash),
                           "tli");
}

static json_t *
tli_entry(json_t *grp, const char *hash, const char *cls)
{
    return json_object_get(json_object_get(tli_of(grp, hash), "Actors"), cls);
}

static bool
addr_of(th_ctx_t *ctx, json_t *a, th_addr_t *out)
{
    const char *s = str(a, "addr");
    return s && th_addr_parse(ctx, out, s) == 0;
}

/* The version of `grp` to run: the newest loaded one, by the one version
 * rule (thi_version_cmp; an unversioned bundle is never newer). */
static const char *
newest(json_t *grp)
{
    const char *best = NULL, *bestv = NULL, *h;
    json_t *v;
    json_object_foreach(json_object_get(grp, "versions"), h, v)
    {
        const char *ver = str(v, "version");
        if (best == NULL || thi_version_cmp(ver, bestv) > 0) {
            best = h;
            bestv = ver;
        }
    }
    return best;
}

static void
abort_activation(th_ctx_t *ctx, json_t *grp, const char *why)
{
    char hbuf[65]; /* a copy: "activating" is replaced below */
    snprintf(hbuf, sizeof hbuf, "%s", str(grp, "activating") ? str(grp,
                                                                   "activating")
                                                             : "");
    const char *h = hbuf[0] ? hbuf : NULL;
    th_log(ctx, TH_LOG_ERROR,
           "activation of %.12s failed (%s): the active version stays", h,
           why);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(grp, "incoming"), i, a)
    {
        th_addr_t to;
        if (addr_of(ctx, a, &to))
            th_exit_request(ctx, &to, true);
    }
    json_object_set_new(grp, "error",
                        json_sprintf("%.12s: %s", h ? h : "?", why));
    /* counted, so a client that loads the same failing hash again can
     * tell this failure from the one before (thespian load, refresh) */
    json_object_set_new(grp, "failures",
                        json_integer(json_integer_value(json_object_get(
                                         grp, "failures")) + 1));
    char hash[65];
    snprintf(hash, sizeof hash, "%s", h ? h : "");
    json_object_set_new(grp, "incoming", json_array());
    json_object_set_new(grp, "activating", json_null());
    if (hash[0]) {
        json_object_del(json_object_get(grp, "versions"), hash);
        th_unload_source(ctx, hash);
    }
}

/* Every new actor has started: swap the roles over. */
static void
commit(th_ctx_t *ctx, json_t *grp)
{
    /* copies: the JSON strings are replaced below */
    char h[65], oldbuf[65];
    snprintf(h, sizeof h, "%s", str(grp, "activating"));
    snprintf(oldbuf, sizeof oldbuf, "%s", str(grp, "active") ? str(grp, "active")
                                                             : "");
    const char *old = oldbuf[0] ? oldbuf : NULL;
    bool reactivate = json_is_true(json_object_get(grp, "reactivate"));
    json_t *olds = json_object_get(grp, "actors");
    int handoffs = 0;
    size_t i, j;
    json_t *n, *o;
    json_array_foreach(json_object_get(grp, "incoming"), i, n)
    {
        th_addr_t na;
        addr_of(ctx, n, &na);
        json_t *pred = NULL;
        json_array_foreach(olds, j, o) if (!json_object_get(o, "successor") &&
                                           ((str(o, "role") && str(n, "role") &&
                                             !strcmp(str(o, "role"),
                                                     str(n, "role"))) ||
                                            !strcmp(str(o, "class"),
                                                    str(n, "class"))))
        {
            pred = o;
            break;
        }
        if (pred) {
            th_addr_t oa;
            addr_of(ctx, pred, &oa);
            json_object_set(pred, "successor", json_object_get(n, "addr"));
            if (old)
                send_lifecycle(ctx, tli_entry(grp, old, str(pred, "class")),
                               "OnDeactivate", &oa);
            /* the name moves when HandoffDone says the state is across */
            if (th_handoff(ctx, &oa, &na) == 0) {
                handoffs++;
                continue;
            }
        }
        bind_names(ctx, n, &na);
        send_lifecycle(ctx, tli_entry(grp, h, str(n, "class")),
                       reactivate ? "OnReactivate" : "OnLoad", &na);
    }
    /* old actors nobody took over from */
    json_array_foreach(olds, j, o) if (!json_object_get(o, "successor"))
    {
        th_addr_t oa;
        if (addr_of(ctx, o, &oa)) {
            if (old)
                send_lifecycle(ctx, tli_entry(grp, old, str(o, "class")),
                               "OnDeactivate", &oa);
            json_object_set_new(o, "retired", json_true()); /* no restart */
            th_exit_request(ctx, &oa, true);
        }
    }
    json_object_set_new(grp, "handoffs", json_integer(handoffs));
    if (handoffs == 0) {
        json_object_set(grp, "actors", json_object_get(grp, "incoming"));
        json_object_set_new(grp, "incoming", json_array());
    }
    json_object_set_new(grp, "previous", old ? json_string(old) : json_null());
    json_object_set_new(grp, "active", json_string(h));
    json_object_set_new(grp, "activating", json_null());
    json_object_del(grp, "error");
    /* the host raises the group's version record only on this word, so a
     * version that fails to activate never becomes the rollback floor */
    th_addr_t sys = th_system_address(ctx);
    th_send_json_new(ctx, &sys, TH_MSG_ACTIVATED_SOURCE,
                     json_pack("{s:s, s:s?}", "sourceHash", h, "previous",
                               old));
    th_log(ctx, TH_LOG_INFO, "version %.12s active (%d roles handed over)", h,
           handoffs);
}

static void
finish_swap(th_ctx_t *ctx, json_t *grp)
{
    json_object_set(grp, "actors", json_object_get(grp, "incoming"));
    json_object_set_new(grp, "incoming", json_array());
    const char *prev = str(grp, "previous");
    json_t *tli = tli_of(grp, str(grp, "active"));
    if (prev && json_is_true(json_object_get(tli, "AutoUnload")))
        th_unload_source(ctx, prev);
}

static void
activate(th_ctx_t *ctx, json_t *grp, const char *hash, bool reactivate)
{
    json_t *tli = tli_of(grp, hash);
    json_object_set_new(grp, "activating", json_string(hash));
    json_object_set_new(grp, "reactivate", json_boolean(reactivate));
    json_t *incoming = json_array();
    json_object_set_new(grp, "incoming", incoming);
    const char *cls;
    json_t *spec;
    json_object_foreach(json_object_get(tli, "Actors"), cls, spec)
    {
        th_create_opts_t o = {.size = sizeof o, .source_hash = hash};
        th_addr_t a;
        int rc = th_create(ctx, &a, cls, &o);
        if (rc != 0) {
            char why[160];
            snprintf(why, sizeof why, "cannot create %s: %s", cls,
                     th_strerror(rc));
            abort_activation(ctx, grp, why);
            return;
        }
        char text[TH_ADDR_STRLEN];
        th_addr_format(ctx, &a, text, sizeof text);
        json_array_append_new(
            incoming,
            json_pack("{s:s, s:s?, s:s?, s:s, s:b, s:I}", "class", cls, "role",
                      str(spec, "Role"), "name", str(spec, "GlobalName"),
                      "addr", text, "ready", 0, "started",
                      (json_int_t)time(NULL)));
        /* answered only once its init has run: it started */
        th_send(ctx, &a, TH_MSG_STATUS_REQ, "", 0);
    }
    if (json_array_size(incoming) == 0)
        commit(ctx, grp);
}

static json_t *
find_actor(th_ctx_t *ctx, director_t *d, const th_addr_t *a, const char *list,
           json_t **grp_out)
{
    char text[TH_ADDR_STRLEN];
    th_addr_format(ctx, a, text, sizeof text);
    const char *g;
    json_t *grp, *e;
    size_t i;
    json_object_foreach(d->groups, g, grp)
        json_array_foreach(json_object_get(grp, list), i, e) if (str(e, "addr") &&
                                                             !strcmp(str(e, "addr"),
                                                                     text))
    {
        *grp_out = grp;
        return e;
    }
    return NULL;
}

static int
on_loaded(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    director_t *d = state;
    json_t *o = th_msg_json(msg);
    const char *h = str(o, "sourceHash"), *g = str(o, "group");
    if (h && g) {
        json_t *grp = group_of(d, g);
        json_object_set_new(json_object_get(grp, "versions"), h,
                            json_pack("{s:O, s:O}", "version",
                                      json_object_get(o, "version")
                                          ? json_object_get(o, "version")
                                          : json_null(),
                                      "tli",
                                      json_object_get(o, "tli")
                                          ? json_object_get(o, "tli")
                                          : json_null()));
        /* the newest loaded version runs; one activation at a time */
        const char *best = newest(grp);
        if (best && !strcmp(best, h) && json_is_null(json_object_get(grp,
                                                                     "activating")))
            activate(ctx, grp, h, false);
    }
    json_decref(o);
    return 0;
}

static int
on_unloaded(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    director_t *d = state;
    json_t *o = th_msg_json(msg);
    const char *h = str(o, "sourceHash"), *g = str(o, "group");
    json_t *grp = g ? json_object_get(d->groups, g) : NULL;
    if (grp && h) {
        json_object_del(json_object_get(grp, "versions"), h);
        const char *active = str(grp, "active");
        if (active && !strcmp(active, h)) {
            json_object_set_new(grp, "active", json_null());
            const char *best = newest(grp);
            if (best) /* the highest remaining version runs again */
                activate(ctx, grp, best, true);
        }
    }
    json_decref(o);
    return 0;
}

static int
on_status(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    json_t *grp = NULL;
    json_t *a = find_actor(ctx, state, &msg->sender, "incoming", &grp);
    if (a == NULL || json_is_null(json_object_get(grp, "activating")))
        return 0;
    json_object_set_new(a, "ready", json_true());
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(grp, "incoming"), i, e) if (
        !json_is_true(json_object_get(e, "ready"))) return 0;
    commit(ctx, grp);
    return 0;
}

static int
on_handoff_done(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    json_t *o = th_msg_json(msg);
    th_addr_t from, to;
    json_t *grp = NULL;
    json_t *n = NULL;
    if (th_addr_parse(ctx, &from, str(o, "from")) == 0 &&
        th_addr_parse(ctx, &to, str(o, "to")) == 0)
        n = find_actor(ctx, state, &to, "incoming", &grp);
    if (n) {
        /* the state is across and the old actor forwards: move the name */
        bind_names(ctx, n, &to);
        send_lifecycle(ctx, tli_entry(grp, str(grp, "active"), str(n, "class")),
                       json_is_true(json_object_get(grp, "reactivate"))
                           ? "OnReactivate"
                           : "OnLoad",
                       &to);
        th_exit_request(ctx, &from, true);
        json_int_t left =
            json_integer_value(json_object_get(grp, "handoffs")) - 1;
        json_object_set_new(grp, "handoffs", json_integer(left));
        if (left == 0)
            finish_swap(ctx, grp);
    }
    json_decref(o);
    return 0;
}

static int
on_child_exited(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    json_t *grp = NULL;
    if (find_actor(ctx, state, &msg->sender, "incoming", &grp) &&
        !json_is_null(json_object_get(grp, "activating"))) {
        abort_activation(ctx, grp, "an actor of the new version failed to "
                                   "start");
        return 0;
    }
    json_t *a = find_actor(ctx, state, &msg->sender, "actors", &grp);
    if (a && !json_object_get(a, "successor") &&
        !json_object_get(a, "retired")) {
        /* an active actor died: start it again, not in a tight loop */
        th_log(ctx, TH_LOG_WARNING, "%s exited; restarting it in 1 s",
               str(a, "class"));
        char body[200];
        int len = snprintf(body, sizeof body, "%s", str(a, "addr"));
        th_wakeup_after(ctx, 1000, body, (size_t)len);
    }
    return 0;
}

static int
on_wakeup(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    char text[TH_ADDR_STRLEN + 8];
    snprintf(text, sizeof text, "%.*s", (int)msg->len, (const char *)msg->data);
    th_addr_t dead;
    json_t *grp = NULL;
    json_t *a = th_addr_parse(ctx, &dead, text) == 0
                    ? find_actor(ctx, state, &dead, "actors", &grp)
                    : NULL;
    const char *h = a ? str(grp, "active") : NULL;
    if (h == NULL)
        return 0;
    th_create_opts_t o = {.size = sizeof o, .source_hash = h};
    th_addr_t na;
    if (th_create(ctx, &na, str(a, "class"), &o) != 0)
        return 0;
    char nt[TH_ADDR_STRLEN];
    th_addr_format(ctx, &na, nt, sizeof nt);
    json_object_set_new(a, "addr", json_string(nt));
    json_object_set_new(a, "started", json_integer((json_int_t)time(NULL)));
    bind_names(ctx, a, &na);
    send_lifecycle(ctx, tli_entry(grp, h, str(a, "class")), "OnLoad", &na);
    return 0;
}

/* Thespian's Director unload: the version's actors get OnDeactivate, then
 * ActorExitRequest; the source is unloaded (its code goes with its last
 * actor) and, when it was the active version, the newest remaining one is
 * reactivated once the runtime reports it gone. */
static json_t *
director_unload(th_ctx_t *ctx, director_t *d, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    const char *g, *h, *found = NULL;
    json_t *grp, *v, *fgrp = NULL;
    int matches = 0;
    json_object_foreach(d->groups, g, grp)
        json_object_foreach(json_object_get(grp, "versions"), h, v) if (
            pl > 0 && !strncmp(h, prefix, pl))
    {
        found = h;
        fgrp = grp;
        matches++;
    }
    if (matches != 1)
        return json_pack("{s:s}", "error",
                         matches ? "the hash prefix is ambiguous"
                                 : "no loaded source has that hash");
    char hash[65];
    snprintf(hash, sizeof hash, "%s", found);
    const char *active = str(fgrp, "active");
    if (active && !strcmp(active, hash)) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(fgrp, "actors"), i, a)
        {
            th_addr_t to;
            if (!addr_of(ctx, a, &to))
                continue;
            send_lifecycle(ctx, tli_entry(fgrp, hash, str(a, "class")),
                           "OnDeactivate", &to);
            th_exit_request(ctx, &to, true);
        }
        /* retired: not restarted; the reactivation starts afresh */
        json_object_set_new(fgrp, "actors", json_array());
    }
    int rc = th_unload_source(ctx, hash);
    return json_pack("{s:s, s:i, s:s}", "hash", hash, "rc", rc, "error",
                     rc ? th_strerror(rc) : "");
}

/* {"DirectorOp": "RetrieveAll"} and {"DirectorOp": "RetrieveRole",
 * "role": R, "group": G?} -> DirectorResult. */
static int
on_op(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    director_t *d = state;
    json_t *o = th_msg_json(msg);
    const char *op = str(o, "DirectorOp");
    json_t *res = NULL;
    if (op && !strcmp(op, "RetrieveAll")) {
        res = json_object();
        const char *g;
        json_t *grp;
        json_object_foreach(d->groups, g, grp)
        {
            json_t *loaded = json_array();
            const char *h;
            json_t *v;
            json_object_foreach(json_object_get(grp, "versions"), h, v)
                json_array_append_new(loaded,
                                      json_pack("{s:s, s:O}", "hash", h,
                                                "version",
                                                json_object_get(v, "version")));
            json_object_set_new(
                res, g,
                json_pack("{s:O, s:O, s:o, s:O, s:O?, s:I}", "active",
                          json_object_get(grp, "active"), "activating",
                          json_object_get(grp, "activating"), "loaded", loaded,
                          "actors", json_object_get(grp, "actors"), "error",
                          json_object_get(grp, "error"), "failures",
                          json_integer_value(
                              json_object_get(grp, "failures"))));
        }
        res = json_pack("{s:o}", "groups", res);
    } else if (op && !strcmp(op, "RetrieveRole")) {
        const char *role = str(o, "role"), *only = str(o, "group");
        const char *g;
        json_t *grp, *a;
        size_t i;
        json_object_foreach(d->groups, g, grp)
            json_array_foreach(json_object_get(grp, "actors"), i, a) if (
                role && str(a, "role") && !strcmp(str(a, "role"), role) &&
                (!only || !strcmp(only, g)) && !res) res =
                json_pack("{s:s, s:s, s:O, s:O}", "role", role, "group", g,
                          "address", json_object_get(a, "addr"), "name",
                          json_object_get(a, "name") ? json_object_get(a, "name")
                                                     : json_null());
        if (res == NULL)
            res = json_pack("{s:s?, s:s}", "role", role, "error",
                            "no active actor has that role");
    } else if (op && !strcmp(op, "Unload")) {
        res = director_unload(ctx, d, str(o, "hash"));
    } else {
        res = json_pack("{s:s}", "error",
                        "unknown DirectorOp (RetrieveAll, RetrieveRole, "
                        "Unload)");
    }
    json_decref(o);
    if (!th_addr_is_null(&msg->sender))
        th_send_json_new(ctx, &msg->sender, "DirectorResult", res);
    else
        json_decref(res);
    return 0;
}

static int
director_other(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    return 0;
}

static const th_dispatch_t director_dispatch[] = {
    {TH_MSG_LOADED_SOURCE, on_loaded},
    {TH_MSG_UNLOADED_SOURCE, on_unloaded},
    {TH_MSG_ACTOR_STATUS, on_status},
    {TH_MSG_HANDOFF_DONE, on_handoff_done},
    {TH_MSG_CHILD_EXITED, on_child_exited},
    {TH_MSG_WAKEUP, on_wakeup},
    {"DirectorOp", on_op},
};

const th_class_t thi_director_class = {
    .size = sizeof(th_class_t),
    .name = "Director",
    .state_size = sizeof(director_t),
    .init = director_init,
    .receive = director_other,
    .teardown = director_teardown,
    .dispatch = director_dispatch,
    .n_dispatch = sizeof director_dispatch / sizeof director_dispatch[0],
};

/*
 * host/features/caps.c — the system's capabilities: one JSON object (the start
 * object plus the read-only common ones), its serialized text cached for
 * capability checks, admission of new actors against it, and the re-check
 * of live actors after an update. docs/capabilities.md is the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "host/core/runtime.h"
#include "host/log.h"
#include "host/features/features.h"

#define CAP_NAME_MAX 255

/* The common capabilities every system has; nobody may set them. */
static const char *const common_names[] = {
    "Thespian Generation",
    "Thespian Version",
    "Thespian ActorSystem Name",
    "Thespian Watch Supported",
};

struct thi_caps {
    pthread_rwlock_t lock;
    json_t *obj; /* name -> value, common ones included */
    char *text;  /* obj serialized, rebuilt on change */
    /* actors to ask again after a change: their class checks or requires
     * capabilities, or they were created with requirements */
    struct thi_caps_slot **watched;
    size_t n_watched, cap_watched;
};

/* The state of one watched incarnation (its feature slot THI_FEAT_CAPS). */
struct thi_caps_slot {
    char *requirements; /* createActor requirements or NULL */
    th_addr_t addr;     /* this incarnation */
    size_t idx;         /* in watched[]; under the caps lock */
    bool exit_sent;     /* a re-check already asked it to exit */
};

static bool
is_common(const char *name)
{
    for (size_t i = 0; i < sizeof common_names / sizeof *common_names; i++)
        if (strcmp(name, common_names[i]) == 0)
            return true;
    return false;
}

/* Thespian's truthiness (actor.h). */
static bool
truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    default:
        return false;
    }
}

/* JSON equality where 16 and 16.0 are the same number, as in Python. */
static bool
cap_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b) != 0;
}

static int
rebuild_text(struct thi_caps *c)
{
    char *t = json_dumps(c->obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (t == NULL)
        return TH_ENOMEM;
    free(c->text);
    c->text = t;
    return 0;
}

static int
caps_init(struct th_system *sys, const char *caps_json, th_diag_t *d)
{
    struct thi_caps *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TH_ENOMEM;
    json_error_t jerr;
    c->obj = caps_json
                 ? json_loads(caps_json,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)
                 : json_object();
    int rc = 0;
    if (c->obj == NULL)
        rc = caps_json ? thi_diag_set(d, TH_EINVAL,
                                      "capabilities: not JSON: %s", jerr.text)
                       : TH_ENOMEM;
    else if (!json_is_object(c->obj))
        rc = thi_diag_set(d, TH_EINVAL, "capabilities: not a JSON object");
    const char *key;
    json_t *v;
    if (rc == 0)
        json_object_foreach(c->obj, key, v)
        {
            if (is_common(key)) {
                rc = thi_diag_set(d, TH_EINVAL,
                                  "capabilities: \"%s\" is a common "
                                  "capability, set by the runtime",
                                  key);
                break;
            }
            if (key[0] == '\0' || strlen(key) > CAP_NAME_MAX) {
                rc = thi_diag_set(d, TH_EINVAL,
                                  "capabilities: a name must be 1..%d bytes",
                                  CAP_NAME_MAX);
                break;
            }
        }
    if (rc == 0) {
        json_t *gen = json_pack("[i,i]", (int)TH_ABI_MAJOR, (int)TH_ABI_MINOR);
        if (gen == NULL ||
            json_object_set_new(c->obj, "Thespian Generation", gen) != 0 ||
            json_object_set_new(c->obj, "Thespian Version",
                                json_string(TH_HOST_VERSION)) != 0 ||
            json_object_set_new(c->obj, "Thespian ActorSystem Name",
                                json_string(sys->name)) != 0 ||
            json_object_set_new(c->obj, "Thespian Watch Supported",
                                json_true()) != 0)
            rc = TH_ENOMEM;
    }
    if (rc == 0)
        rc = rebuild_text(c);
    if (rc != 0) {
        json_decref(c->obj);
        free(c);
        return rc;
    }
    pthread_rwlock_init(&c->lock, NULL);
    sys->feat[THI_FEAT_CAPS] = c;
    return 0;
}

static void
caps_sys_fini(struct th_system *sys)
{
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    if (c == NULL)
        return;
    pthread_rwlock_destroy(&c->lock);
    json_decref(c->obj);
    free(c->text);
    free(c->watched);
    free(c);
    sys->feat[THI_FEAT_CAPS] = NULL;
}

static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Why `have` is not the `want`ed value: name the JSON types when they
 * differ (a requirement of the wrong type can never match). */
static int
not_equal(th_diag_t *d, const char *who, const char *name, const json_t *have,
          const json_t *want)
{
    if (strcmp(type_name(have), type_name(want)) != 0)
        return thi_diag_set(d, TH_ENOCOMPAT,
                            "%s: capability \"%s\" is %s here, the "
                            "requirement is %s",
                            who, name, type_name(have), type_name(want));
    return thi_diag_set(d, TH_ENOCOMPAT,
                        "%s: capability \"%s\" does not have the required "
                        "value",
                        who, name);
}

/* One declared requirement of the class against the capabilities. */
static int
check_require(const json_t *caps, const thi_class_t *cls,
              const th_requirement_t *r, th_diag_t *d)
{
    const json_t *have = json_object_get(caps, r->name);
    if (have == NULL)
        return thi_diag_set(d, TH_ENOCOMPAT,
                            "class %s requires capability \"%s\", which this "
                            "system lacks",
                            cls->qname, r->name);
    if (r->value_json == NULL) {
        if (!truthy(have))
            return thi_diag_set(d, TH_ENOCOMPAT,
                                "class %s requires capability \"%s\" to be "
                                "true",
                                cls->qname, r->name);
        return 0;
    }
    json_t *want = json_loads(r->value_json, JSON_DECODE_ANY, NULL);
    if (want == NULL) /* the loader validated it: only ENOMEM is left */
        return thi_diag_set(d, TH_ENOMEM, "class %s: requirement \"%s\"",
                            cls->qname, r->name);
    int rc = 0;
    if (!cap_equal(have, want)) {
        char who[sizeof cls->qname + 16];
        snprintf(who, sizeof who, "class %s", cls->qname);
        rc = not_equal(d, who, r->name, have, want);
    }
    json_decref(want);
    return rc;
}

/* The createActor requirements (a parsed object) against the capabilities. */
static int
check_requirements(const json_t *caps, const json_t *reqs, th_diag_t *d)
{
    const char *key;
    json_t *want;
    json_object_foreach((json_t *)reqs, key, want)
    {
        const json_t *have = json_object_get(caps, key);
        if (have == NULL)
            return thi_diag_set(d, TH_ENOCOMPAT,
                                "requirements: capability \"%s\" is not "
                                "present on this system",
                                key);
        if (json_is_true(want) ? !truthy(have) : !cap_equal(have, want))
            return json_is_true(want)
                       ? thi_diag_set(d, TH_ENOCOMPAT,
                                      "requirements: capability \"%s\" is "
                                      "not true",
                                      key)
                       : not_equal(d, "requirements", key, have, want);
    }
    return 0;
}

/* May `cls` live here with these createActor requirements (JSON object
 * text or NULL)? 0, TH_ENOCOMPAT or TH_EINVAL with a diag saying why. */
static int
caps_admit(struct th_system *sys, const thi_class_t *cls,
           const char *requirements, th_diag_t *d)
{
    /* the common case costs these three tests */
    if (cls->capability_check == NULL && cls->n_requires == 0 &&
        requirements == NULL)
        return 0;
    json_t *reqs = NULL;
    if (requirements) {
        json_error_t jerr;
        reqs = json_loads(requirements,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (reqs == NULL)
            return thi_diag_set(d, TH_EINVAL, "requirements: not JSON: %s",
                                jerr.text);
        if (!json_is_object(reqs)) {
            json_decref(reqs);
            return thi_diag_set(d, TH_EINVAL,
                                "requirements: not a JSON object");
        }
    }
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    int rc = 0;
    pthread_rwlock_rdlock(&c->lock);
    /* Thespian hands the requirements to the class's check: they are its
     * business ({"hue": "red"} need not be a capability). Only a class
     * without a check has them matched against the capabilities here
     * (Thespian would ignore them; docs/thespian.md says why not). */
    if (reqs && cls->capability_check == NULL)
        rc = check_requirements(c->obj, reqs, d);
    for (uint32_t i = 0; rc == 0 && i < cls->n_requires; i++)
        rc = check_require(c->obj, cls, &cls->requires[i], d);
    if (rc == 0 && cls->capability_check &&
        !cls->capability_check(c->text, requirements ? requirements : "{}"))
        rc = thi_diag_set(d, TH_ENOCOMPAT,
                          "the capability check of class %s rejects this "
                          "system's capabilities%s",
                          cls->qname,
                          requirements ? " with these requirements" : "");
    pthread_rwlock_unlock(&c->lock);
    json_decref(reqs);
    return rc;
}

/* ---- Re-check after a change ------------------------------------------------
 */

/* In the actor's own context: does it still fit? If not, it is asked to
 * exit like any other actor (it sees the ActorExitRequest). */
static void
exit_if_unfit(struct th_system *sys, thi_slot_t *slot,
              struct thi_caps_slot *cs)
{
    const thi_class_t *cls =
        atomic_load_explicit(&slot->cls, memory_order_relaxed);
    if (cls == NULL || cs == NULL || cs->exit_sent)
        return;
    th_diag_t d = {0};
    if (caps_admit(sys, cls, cs->requirements, &d) == 0)
        return;
    thi_log(TH_LOG_INFO, &cs->addr,
            "capabilities changed: %s no longer fits (%s); asking it to exit",
            cls->qname, d.msg);
    cs->exit_sent = true;
    thi_send_system(sys, &cs->addr, &cs->addr, TH_MSG_EXIT_REQUEST, "", 0);
}

static void
recheck_op(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    (void)env;
    exit_if_unfit(ctx->sys, slot, thi_slot_feat(slot, THI_FEAT_CAPS));
}

static void
recheck_all(struct th_system *sys)
{
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->n_watched;
    th_addr_t *to = n ? malloc(n * sizeof *to) : NULL;
    for (size_t i = 0; to && i < n; i++)
        to[i] = c->watched[i]->addr;
    pthread_rwlock_unlock(&c->lock);
    if (n && to == NULL) {
        thi_log(TH_LOG_ERROR, NULL,
                "capabilities changed: out of memory, actors not re-checked");
        return;
    }
    /* an actor gone meanwhile drops its op uncalled */
    for (size_t i = 0; i < n; i++)
        (void)thi_send_op(sys, &to[i], recheck_op, NULL, 0);
    free(to);
}

int
thi_caps_update(struct th_system *sys, const char *name, const char *value_json,
                th_diag_t *d)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > CAP_NAME_MAX)
        return thi_diag_set(d, TH_EINVAL,
                            "updateCapability: the name must be 1..%d bytes",
                            CAP_NAME_MAX);
    json_t *utf8 = json_string(name); /* NULL: not valid UTF-8 */
    if (utf8 == NULL)
        return thi_diag_set(d, TH_EINVAL,
                            "updateCapability: the name is not UTF-8");
    json_decref(utf8);
    if (is_common(name))
        return thi_diag_set(d, TH_EPERM,
                            "updateCapability: \"%s\" is a read-only common "
                            "capability",
                            name);
    json_t *value = NULL;
    if (value_json) {
        json_error_t jerr;
        value = json_loads(value_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
        if (value == NULL)
            return thi_diag_set(d, TH_EINVAL,
                                "updateCapability \"%s\": the value is not "
                                "JSON: %s",
                                name, jerr.text);
        if (json_is_null(value)) { /* null removes, as Thespian's None */
            json_decref(value);
            value = NULL;
        }
    }
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    pthread_rwlock_wrlock(&c->lock);
    json_t *old = json_object_get(c->obj, name);
    bool same =
        old == NULL ? value == NULL : value != NULL && json_equal(old, value);
    int rc = 0;
    if (!same) {
        json_t *keep = json_incref(old); /* restored if the text fails */
        rc = value ? json_object_set(c->obj, name, value)
                   : json_object_del(c->obj, name);
        rc = rc != 0 ? TH_ENOMEM : rebuild_text(c);
        if (rc != 0) {
            if (keep)
                json_object_set(c->obj, name, keep);
            else
                json_object_del(c->obj, name);
        }
        json_decref(keep);
    }
    pthread_rwlock_unlock(&c->lock);
    bool removed = value == NULL;
    json_decref(value);
    if (rc != 0)
        return thi_diag_set(d, rc, "updateCapability \"%s\": out of memory",
                            name);
    if (same)
        return 0;
    thi_log(TH_LOG_INFO, NULL, "capability \"%s\" %s", name,
            removed ? "removed" : "updated");
    recheck_all(sys);
    return 0;
}

int
thi_caps_json(struct th_system *sys, char **out)
{
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    pthread_rwlock_rdlock(&c->lock);
    *out = strdup(c->text);
    pthread_rwlock_unlock(&c->lock);
    return *out ? 0 : TH_ENOMEM;
}

/* ---- Per actor
 * ---------------------------------------------------------------- */

/* Does an actor of `cls` need re-checks after a change, whatever its
 * requirements? */
static bool
caps_wants(const thi_class_t *cls)
{
    return cls->capability_check || cls->n_requires;
}

/* `extra`: the createActor requirements (JSON object text), taken. */
static int
caps_take(th_ctx_t *ctx, thi_slot_t *slot, void *extra)
{
    struct th_system *sys = ctx->sys;
    const thi_class_t *cls =
        atomic_load_explicit(&slot->cls, memory_order_relaxed);
    if (!caps_wants(cls) && extra == NULL)
        return 0;
    struct thi_caps_slot *cs = calloc(1, sizeof *cs);
    if (cs == NULL || thi_slot_feat_set(slot, THI_FEAT_CAPS, cs) != 0) {
        free(cs);
        free(extra);
        return TH_ENOMEM;
    }
    slot->ext->feat[THI_FEAT_CAPS] = NULL; /* set once registered */
    cs->requirements = extra; /* moved */
    thi_slot_addr(sys, slot, slot->live_nonce, &cs->addr);
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    pthread_rwlock_wrlock(&c->lock);
    if (THI_RESERVE(c->watched, c->cap_watched, c->n_watched + 1, 16) != 0) {
        pthread_rwlock_unlock(&c->lock);
        free(cs->requirements);
        free(cs);
        return TH_ENOMEM;
    }
    cs->idx = c->n_watched;
    c->watched[c->n_watched++] = cs;
    pthread_rwlock_unlock(&c->lock);
    slot->ext->feat[THI_FEAT_CAPS] = cs;
    /* admitted at create, but an update may have come before this start
     * registered it: such an update re-checked everyone but this actor */
    exit_if_unfit(sys, slot, cs);
    return 0;
}

static void
caps_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct th_system *sys = ctx->sys;
    struct thi_caps_slot *cs = thi_slot_feat(slot, THI_FEAT_CAPS);
    if (cs == NULL)
        return;
    struct thi_caps *c = sys->feat[THI_FEAT_CAPS];
    pthread_rwlock_wrlock(&c->lock);
    struct thi_caps_slot *last = c->watched[--c->n_watched];
    c->watched[cs->idx] = last;
    last->idx = cs->idx;
    pthread_rwlock_unlock(&c->lock);
    free(cs->requirements);
    free(cs);
    slot->ext->feat[THI_FEAT_CAPS] = NULL;
}

/* ---- Public API (host.h)
 * ------------------------------------------------------ */

int
th_system_update_capability(th_system_t *sys, const char *name,
                            const char *value_json, th_diag_t *d)
{
    th_diag_t local = {0};
    thi_diag_clear(d);
    int rc = thi_caps_update(sys, name, value_json, d ? d : &local);
    if (rc != 0)
        thi_log(TH_LOG_WARNING, NULL, "%s", d ? d->msg : local.msg);
    return rc;
}

int
th_system_capabilities_json(th_system_t *sys, char **out)
{
    if (out == NULL)
        return TH_EINVAL;
    return thi_caps_json(sys, out);
}

const char *
thi_caps_slot_requirements(const thi_slot_t *slot)
{
    const struct thi_caps_slot *cs = thi_slot_feat(slot, THI_FEAT_CAPS);
    return cs ? cs->requirements : NULL;
}

/* ---- The feature table's entry
 * ------------------------------------------------------ */

static int
caps_sys_init(struct th_system *sys, th_diag_t *d)
{
    int rc = caps_init(sys, sys->opts.capabilities_json, d);
    sys->opts.capabilities_json = NULL; /* copied into the caps state */
    return rc;
}

static int
caps_create_opts(struct th_system *sys, th_ctx_t *ctx,
                 thi_slot_t *parent_slot, const th_create_opts_t *opts,
                 void **extra, th_diag_t *d)
{
    (void)sys, (void)ctx, (void)parent_slot, (void)d;
    if (opts && opts->size >= offsetof(th_create_opts_t, requirements_json) +
                                  sizeof(void *) &&
        opts->requirements_json &&
        (*extra = strdup(opts->requirements_json)) == NULL)
        return TH_ENOMEM;
    return 0;
}

static void
caps_extra_free(void *extra)
{
    free(extra);
}

static int
caps_admit_hook(struct th_system *sys, const thi_class_t *cls,
                const void *extra, th_diag_t *d)
{
    return caps_admit(sys, cls, extra, d);
}

const thi_feature_t thi_feature_caps = {
    .name = "capabilities",
    .id = THI_FEAT_CAPS,
    .sys_init = caps_sys_init,
    .sys_fini = caps_sys_fini,
    .create_opts = caps_create_opts,
    .extra_free = caps_extra_free,
    .admit = caps_admit_hook,
    .wants = caps_wants,
    .take = caps_take,
    .slot_fini = caps_slot_fini,
};

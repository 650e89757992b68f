/*
 * director/cli_verdict.c — the Director's verdict on a load: its view of
 * the groups (RetrieveAll), and waiting until that view says the loaded
 * version is active, superseded, or failed to start.
 */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "director/cli.h"
#include "director/cli_verdict.h"

json_t *
cli_director_view(th_client_t *c)
{
    th_addr_t director;
    if (th_client_lookup(c, &director, "Director") != 0)
        return NULL;
    const char *q = "{\"DirectorOp\":\"RetrieveAll\"}";
    th_client_msg_t *m = NULL;
    if (th_client_ask_name(c, &m, "Director", "DirectorOp", q, strlen(q),
                           5000) != 0)
        return NULL;
    json_t *r = json_loadb(m->data, m->len, 0, NULL);
    th_client_msg_free(m);
    json_t *groups = json_incref(json_object_get(r, "groups"));
    json_decref(r);
    return json_is_object(groups) ? groups : (json_decref(groups), NULL);
}

static json_int_t
failures_of(const json_t *view, const char *group)
{
    return json_integer_value(
        json_object_get(json_object_get(view, group), "failures"));
}

/* One look at the Director's view: the verdict on `hash`, or -1. */
static int
verdict_of(const json_t *view, const json_t *before, const char *hash,
           json_t *res)
{
    const char *g;
    json_t *grp;
    json_object_foreach((json_t *)view, g, grp)
    {
        const char *act = json_string_value(json_object_get(grp, "active"));
        const char *ing = json_string_value(json_object_get(grp,
                                                            "activating"));
        const char *err = json_string_value(json_object_get(grp, "error"));
        bool listed = false;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(grp, "loaded"), k, v)
        {
            const char *h = json_string_value(json_object_get(v, "hash"));
            listed = listed || (h && !strcmp(h, hash));
        }
        if (act && !strcmp(act, hash)) {
            json_object_set_new(res, "group", json_string(g));
            json_object_set_new(res, "state", json_string("active"));
            return CLI_OK;
        }
        /* a failure is this load's only when the group's count moved: the
         * same hash may have failed before */
        if (err && !strncmp(err, hash, 12) && !listed &&
            failures_of(view, g) > failures_of(before, g)) {
            json_object_set_new(res, "group", json_string(g));
            json_object_set_new(res, "state", json_string("failed"));
            json_object_set_new(res, "error",
                                json_string(err + strcspn(err, " ") +
                                            (err[strcspn(err, " ")] ? 1
                                                                     : 0)));
            return CLI_FAIL;
        }
        if (listed && !(ing && !strcmp(ing, hash))) {
            json_object_set_new(res, "group", json_string(g));
            json_object_set_new(res, "state", json_string("loaded"));
            json_object_set_new(res, "activeHash",
                                act ? json_string(act) : json_null());
            return CLI_OK;
        }
    }
    return -1;
}

int
cli_load_verdict(th_client_t *c, const json_t *before, const char *hash,
                 json_t *res)
{
    json_object_set_new(res, "hash", json_string(hash));
    if (before == NULL) { /* no Director: loaded is all there is */
        json_object_set_new(res, "state", json_string("loaded"));
        return CLI_OK;
    }
    for (int i = 0; i < 200; i++) {
        json_t *view = cli_director_view(c);
        if (view == NULL) {
            json_object_set_new(res, "state", json_string("unknown"));
            json_object_set_new(res, "error",
                                json_string("the Director did not answer"));
            return CLI_FAIL;
        }
        int verdict = verdict_of(view, before, hash, res);
        json_decref(view);
        if (verdict != -1)
            return verdict;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    json_object_set_new(res, "state", json_string("unknown"));
    json_object_set_new(res, "error",
                        json_string("the Director has not activated it "
                                    "after 10 s"));
    return CLI_FAIL;
}

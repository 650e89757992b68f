/*
 * tests/integration/caps_test.c — capabilities through a real thespiand
 * and libthespian-client: --capabilities reaches the runtime, create with
 * requirements is admitted or refused (NoCompatibleSystemForActor),
 * th_client_update_capability re-checks the live actors (the one created
 * with a requirement that no longer holds exits, the others answer), a
 * refused update returns its code, status shows the runtime's
 * capabilities. Needs $THESPIAND and $CAPACTORS_SO (meson passes them).
 */
#include <jansson.h>

#include "host_util.h"
#include "th_test.h"

static th_client_msg_t *
expect(th_client_t *c, const char *type)
{
    th_client_msg_t *m = NULL;
    int rc = th_client_listen(c, &m, 10000);
    if (rc != 0)
        TH_FAIL_AT_("waiting for %s: %s", type, th_client_errmsg(c));
    if (strcmp(m->type, type) != 0)
        TH_FAIL_AT_("expected %s, got %s: %.*s", type, m->type, (int)m->len,
                    (const char *)m->data);
    return m;
}

static th_addr_t
create_named(th_client_t *c, const char *reqs, const char *name)
{
    th_client_create_opts_t o = {.size = sizeof o, .requirements_json = reqs};
    th_addr_t a;
    int rc = th_client_create(c, &a, "capactors.Plain", reqs ? &o : NULL);
    if (rc != 0)
        TH_FAIL_AT_("create %s: %s", name, th_client_errmsg(c));
    char body[64];
    int n = snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    CHECK_RC(th_client_tell(c, &a, "Hello", body, (size_t)n), 0);
    th_client_msg_free(expect(c, "Hi"));
    return a;
}

static json_t *
status_caps(th_client_t *c)
{
    char *text = NULL;
    CHECK_RC(th_client_status(c, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    th_client_free(text);
    CHECK(st != NULL);
    json_t *caps = json_incref(json_object_get(st, "capabilities"));
    json_decref(st);
    CHECK(json_is_object(caps));
    return caps;
}

TH_TEST(update_through_the_client_exits_the_rejected_actor)
{
    const char *so = getenv("CAPACTORS_SO");
    CHECK(so != NULL);
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", so, "--capabilities",
                           "{\"Zone\":\"eu\",\"Color\":\"blue\"}", NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);

    json_t *caps = status_caps(c);
    CHECK_STREQ(json_string_value(json_object_get(caps, "Zone")), "eu");
    CHECK_STREQ(json_string_value(json_object_get(caps, "Thespian Version")),
                "0.1.0");
    json_decref(caps);

    th_addr_t z = create_named(c, "{\"Zone\":\"eu\"}", "z");
    th_addr_t p = create_named(c, NULL, "p");
    th_addr_t a;
    th_client_create_opts_t o = {.size = sizeof o,
                                 .requirements_json = "{\"Zone\":\"us\"}"};
    CHECK_RC(th_client_create(c, &a, "capactors.Plain", &o), TH_ENOCOMPAT);
    CHECK_CONTAINS(th_client_errmsg(c), "NoCompatibleSystemForActor");
    /* the client hears which capability, not only the host log */
    CHECK_CONTAINS(th_client_errmsg(c), "\"Zone\"");
    o.requirements_json = "{\"Rack\":1}";
    CHECK_RC(th_client_create(c, &a, "capactors.Plain", &o), TH_ENOCOMPAT);
    CHECK_CONTAINS(th_client_errmsg(c), "\"Rack\" is not present");

    /* refused updates return their code; nothing changes */
    CHECK_RC(th_client_update_capability(c, "Thespian Version", "\"9\""),
             TH_EPERM);
    CHECK_CONTAINS(th_client_errmsg(c), "Thespian Version");
    CHECK_RC(th_client_update_capability(c, "Zone", "\"eu\""), 0);

    /* a real change: the actor that required Zone eu is asked to exit */
    CHECK_RC(th_client_update_capability(c, "Zone", "\"us\""), 0);
    th_client_msg_t *m = expect(c, "Exiting");
    CHECK_CONTAINS((const char *)m->data, "\"z\"");
    th_client_msg_free(m);
    CHECK_RC(th_client_tell(c, &p, "Ping", "", 0), 0);
    m = expect(c, "Pong");
    CHECK_CONTAINS((const char *)m->data, "\"p\"");
    th_client_msg_free(m);
    /* z is gone: a ping gets nothing back */
    CHECK_RC(th_client_tell(c, &z, "Ping", "", 0), 0);
    CHECK_RC(th_client_listen(c, &m, 300), TH_ETIMEDOUT);

    caps = status_caps(c);
    CHECK_STREQ(json_string_value(json_object_get(caps, "Zone")), "us");
    json_decref(caps);
    CHECK(hu_log_has(&h, "no longer fits"));
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(bad_start_capabilities_refused)
{
    const char *so = getenv("CAPACTORS_SO");
    CHECK(so != NULL);
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", so, "--capabilities",
                           "{\"Thespian Version\":\"9\"}", NULL};
    hu_spawn(&h, extra);
    int rc = hu_wait_exit(&h, 10000);
    CHECK(rc > 0); /* exited with a failure, not hung or killed */
    CHECK(hu_log_has(&h, "\"Thespian Version\" is a common capability"));
    hu_rm_scratch(h.dir);
}

TH_TEST_MAIN(TH_CASE(update_through_the_client_exits_the_rejected_actor),
             TH_CASE(bad_start_capabilities_refused))

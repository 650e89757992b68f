/*
 * tests/integration/thespian_test.c — behaviours taken from Thespian's own
 * test suite (test_badmessage, test_globalName, TestUnitRequireRequirements,
 * test_systemMessages) through a real thespiand and libthespian-client:
 * the same cases tests/unit/host/thespian_test.c runs in process. Needs
 * $THESPIAND, $THESPACTORS_SO and $HELLO_SO (meson passes them).
 */
#include <jansson.h>

#include "host_util.h"
#include "th_test.h"

static hu_host_t host;

static th_client_t *
start(void)
{
    const char *t = getenv("THESPACTORS_SO"), *h = getenv("HELLO_SO");
    CHECK(t != NULL && h != NULL);
    const char *extra[] = {"--plugin", t, "--plugin", h, NULL};
    hu_start(&host, extra);
    return hu_connect(&host);
}

static void
finish(th_client_t *c)
{
    th_client_close(c);
    CHECK(hu_finish(&host));
}

static th_addr_t
create(th_client_t *c, const char *cls, const char *gname, const char *reqs)
{
    th_client_create_opts_t o = {.size = sizeof o, .global_name = gname,
                                 .requirements_json = reqs};
    th_addr_t a;
    if (th_client_create(c, &a, cls, &o) != 0)
        TH_FAIL_AT_("create %s: %s", cls, th_client_errmsg(c));
    return a;
}

/* Ask and require a reply of `type`; the parsed body (new reference). */
static json_t *
ask(th_client_t *c, const th_addr_t *a, const char *type, const char *body,
    const char *want)
{
    th_client_msg_t *m = NULL;
    if (th_client_ask(c, &m, a, type, body, strlen(body), 10000) != 0)
        TH_FAIL_AT_("ask %s: %s", type, th_client_errmsg(c));
    if (strcmp(m->type, want) != 0)
        TH_FAIL_AT_("ask %s: expected %s, got %s: %.*s", type, want, m->type,
                    (int)m->len, (const char *)m->data);
    json_t *o = json_loadb(m->data, m->len, 0, NULL);
    th_client_msg_free(m);
    CHECK(o != NULL);
    return o;
}

static long long
int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    CHECK(json_is_integer(v));
    return (long long)json_integer_value(v);
}

TH_TEST(badmessage_test03_intermittently_bad)
{
    th_client_t *c = start();
    th_addr_t a = create(c, "thespactors.Intermittent", NULL, NULL);
    for (int i = 1; i <= 3; i++) {
        json_t *r = ask(c, &a, "Work", "{}", "Done");
        CHECK_EQ(int_of(r, "attempts"), 2 * i);
        json_decref(r);
    }
    finish(c);
}

TH_TEST(badmessage_test02_bad_message_keeps_state)
{
    th_client_t *c = start();
    th_addr_t g = create(c, "hello.Greeter", NULL, NULL);
    json_decref(ask(c, &g, "Greet", "{\"name\":\"A\"}", "Greeting"));
    json_t *p = ask(c, &g, "Crash", "{}", TH_MSG_POISON);
    CHECK_STREQ(json_string_value(json_object_get(p, "type")), "Crash");
    json_decref(p);
    json_t *r = ask(c, &g, "Greet", "{\"name\":\"A\"}", "Greeting");
    CHECK_EQ(int_of(r, "count"), 2);
    json_decref(r);
    finish(c);
}

TH_TEST(badmessage_poison_not_recursive)
{
    th_client_t *c = start();
    th_addr_t a = create(c, "thespactors.Sour", NULL, NULL);
    th_addr_t b = create(c, "thespactors.Sour", NULL, NULL);
    char bs[TH_ADDR_STRLEN], body[128];
    CHECK_RC(th_client_addr_format(&b, bs, sizeof bs), 0);
    int n = snprintf(body, sizeof body, "{\"to\":\"%s\"}", bs);
    CHECK_RC(th_client_tell(c, &a, "Kick", body, (size_t)n), 0);
    hu_sleep_ms(300);
    for (int round = 0; round < 2; round++) {
        json_t *r = ask(c, &a, "Count", "{}", "Counted");
        CHECK_EQ(int_of(r, "n"), 2);
        json_decref(r);
        r = ask(c, &b, "Count", "{}", "Counted");
        CHECK_EQ(int_of(r, "n"), 2);
        json_decref(r);
        hu_sleep_ms(100);
    }
    finish(c);
}

TH_TEST(globalname_test_global_name_overrides_class)
{
    th_client_t *c = start();
    th_addr_t a = create(c, "thespactors.Tool", "Global", NULL);
    th_addr_t b = create(c, "thespactors.NoSuchClass", "Global", NULL);
    CHECK(th_addr_eq(&a, &b));
    b = create(c, "thespactors.HueCheck", "Global", "{\"hue\":\"blue\"}");
    CHECK(th_addr_eq(&a, &b));
    json_t *r = ask(c, &b, "Who", "{}", "Me");
    CHECK_STREQ(json_string_value(json_object_get(r, "name")), "Global");
    json_decref(r);
    finish(c);
}

TH_TEST(requirerequirements_requirements_reach_check)
{
    th_client_t *c = start();
    th_addr_t a = create(c, "thespactors.HueCheck", NULL, "{\"hue\":\"red\"}");
    json_t *r = ask(c, &a, "Who", "{}", "Me");
    json_t *req = json_object_get(r, "requirements");
    CHECK_STREQ(json_string_value(json_object_get(req, "hue")), "red");
    json_decref(r);
    th_client_create_opts_t o = {.size = sizeof o,
                                 .requirements_json = "{\"hue\":\"blue\"}"};
    CHECK_RC(th_client_create(c, &a, "thespactors.HueCheck", &o),
             TH_ENOCOMPAT);
    finish(c);
}

TH_TEST_MAIN(TH_CASE(badmessage_test03_intermittently_bad),
             TH_CASE(badmessage_test02_bad_message_keeps_state),
             TH_CASE(badmessage_poison_not_recursive),
             TH_CASE(globalname_test_global_name_overrides_class),
             TH_CASE(requirerequirements_requirements_reach_check))

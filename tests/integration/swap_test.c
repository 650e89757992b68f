/*
 * tests/integration/swap_test.c — a hot swap through real processes: a
 * thespiand with a director directory (Source Authority + Director), a
 * group signed here in two versions (hello.so and its next release), and
 * client threads that keep asking the global name with sequence numbers
 * while version 2 is loaded. Every request is answered exactly once, by
 * v1 or v2; the greeting count continues across the swap; the Director
 * reports v2 active and v1 gone (AutoUnload).
 */
#include <pthread.h>

#include "host_util.h"
#include "loader/bundle.h"
#include "th_test.h"

#define THREADS 4

typedef struct fixture {
    hu_host_t h;
    char dd[300];
    thi_key_t *key;
} fixture_t;

static void
fixture_start(fixture_t *f)
{
    hu_scratch(f->h.dir, sizeof f->h.dir);
    snprintf(f->dd, sizeof f->dd, "%s/director", f->h.dir);
    CHECK(mkdir(f->dd, 0700) == 0);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&f->key, 2048, &d), 0);
    char *pem = NULL, path[400];
    CHECK_RC(thi_key_write_public_pem(f->key, &pem, &d), 0);
    snprintf(path, sizeof path, "%s/t_tls.key", f->dd);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
    const char *extra[] = {"--director-dir", f->dd, NULL};
    hu_start(&f->h, extra);
}

/* hello-VERSION.tls from plugin `so` (inside: hello.so), TLI with the role
 * greeter under the global name "greeter", AutoUnload. */
static void
sign(fixture_t *f, const char *version, const char *so, char *path,
     size_t size)
{
    uint8_t *data;
    size_t len, blen;
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&data, &len, so, 64 << 20, &d), 0);
    json_t *tli = json_pack("{s:{s:{s:s, s:s}}, s:b}", "Actors",
                            "hello.Greeter", "Role", "greeter", "GlobalName",
                            "greeter", "AutoUnload", 1);
    thi_bundle_input_t in = {"hello.so", "plugin", data, len, "hello",
                             (const char *[]){"Greeter", "Toggler", NULL}};
    uint8_t *b = NULL;
    if (thi_bundle_build(&b, &blen, "hello", version, "greeter", tli, &in, 1,
                         f->key, &d))
        TH_FAIL_AT_("sign: %s", d.msg);
    snprintf(path, size, "%s/hello-%s.tls", f->dd, version);
    CHECK_RC(thi_write_file_atomic(path, b, blen, &d), 0);
    json_decref(tli);
    free(b);
    free(data);
}

typedef struct asker {
    const hu_host_t *h;
    volatile int *stop;
    int id, sent, got, v2;
    long long counts[20000];
} asker_t;

static void *
asker_main(void *arg)
{
    asker_t *a = arg;
    th_client_t *c = hu_connect(a->h); /* a private context per thread */
    while (!*a->stop && a->sent < 20000) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"name\":\"t%d-%d\"}", a->id,
                         a->sent);
        th_client_msg_t *m = NULL;
        /* half the threads address the role, half the global name */
        int rc = th_client_ask_name(c, &m, a->id % 2 ? "role:greeter"
                                                       : "greeter",
                                    "Greet", body, (size_t)n, 5000);
        if (rc != 0)
            TH_FAIL_AT_("ask %d of thread %d: %s", a->sent, a->id,
                        th_client_errmsg(c));
        a->sent++;
        json_t *o = json_loadb(m->data, m->len, 0, NULL);
        char want[40];
        snprintf(want, sizeof want, "t%d-%d", a->id, a->sent - 1);
        const char *text = json_string_value(json_object_get(o, "text"));
        if (strcmp(m->type, "Greeting") || text == NULL ||
            strstr(text, want) == NULL)
            TH_FAIL_AT_("thread %d got %s %.*s for %s", a->id, m->type,
                        (int)m->len, (const char *)m->data, want);
        a->counts[a->got++] = json_integer_value(json_object_get(o, "count"));
        a->v2 += json_integer_value(json_object_get(o, "version")) == 2;
        json_decref(o);
        th_client_msg_free(m);
    }
    th_client_close(c);
    return NULL;
}

static json_t *
director_all(th_client_t *c)
{
    th_client_msg_t *m = NULL;
    const char *op = "{\"DirectorOp\":\"RetrieveAll\"}";
    CHECK_RC(th_client_ask_name(c, &m, "Director", "DirectorOp", op,
                                strlen(op), 5000),
             0);
    json_t *r = json_loadb(m->data, m->len, 0, NULL);
    th_client_msg_free(m);
    return json_object_get(json_object_get(r, "groups"), "hello")
               ? r
               : (json_decref(r), NULL);
}

static const char *
active_of(json_t *all)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(all, "groups"), "hello"), "active"));
}

TH_TEST(hot_swap_under_requests_answers_each_once)
{
    fixture_t f = {0};
    fixture_start(&f);
    char v1[400], v2[400], h1[65], h2[65];
    sign(&f, "1.0", getenv("HELLO_SO"), v1, sizeof v1);
    sign(&f, "2.0", getenv("HELLO_V2_SO"), v2, sizeof v2);
    th_client_t *c = hu_connect(&f.h);
    CHECK_RC(th_client_load(c, h1, v1), 0);
    json_t *all = NULL;
    for (int i = 0; i < 300; i++) { /* the Director activates v1 */
        json_decref(all);
        all = director_all(c);
        if (all && active_of(all) && !strcmp(active_of(all), h1))
            break;
        hu_sleep_ms(10);
    }
    CHECK_STREQ(active_of(all), h1);
    json_decref(all);

    volatile int stop = 0;
    static asker_t a[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (asker_t){.h = &f.h, .stop = &stop, .id = i};
        pthread_create(&t[i], NULL, asker_main, &a[i]);
    }
    hu_sleep_ms(300);
    CHECK_RC(th_client_load(c, h2, v2), 0);
    all = NULL;
    for (int i = 0; i < 300; i++) {
        json_decref(all);
        all = director_all(c);
        if (all && active_of(all) && !strcmp(active_of(all), h2))
            break;
        hu_sleep_ms(10);
    }
    CHECK_STREQ(active_of(all), h2);
    json_decref(all);
    hu_sleep_ms(300);
    stop = 1;
    int got = 0, v2n = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(a[i].got, a[i].sent); /* every ask answered, by either */
        got += a[i].got;
        v2n += a[i].v2;
    }
    CHECK(v2n > 0 && v2n < got); /* both versions answered */
    /* the count carried over: 1..N, each exactly once, across threads */
    char *seen = calloc((size_t)got + 1, 1);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < a[i].got; k++) {
            long long n = a[i].counts[k];
            if (n < 1 || n > got || seen[n]++)
                TH_FAIL_AT_("count %lld out of place (%d answers)", n, got);
        }
    free(seen);
    /* the CLI's role lookup names the actor now holding the name */
    th_addr_t holder;
    CHECK_RC(th_client_lookup(c, &holder, "greeter"), 0);
    char ha[TH_ADDR_STRLEN], cmd[600], out[400] = "";
    th_client_addr_format(&holder, ha, sizeof ha);
    snprintf(cmd, sizeof cmd, "'%s' --endpoint %s role greeter hello",
             getenv("THESPIAN_CLI"), f.h.endpoint);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK_EQ(pclose(p), 0);
    CHECK_CONTAINS(out, ha);
    CHECK_CONTAINS(out, "group hello");
    th_addr_t by_role;
    CHECK_RC(th_client_role(c, &by_role, "greeter", NULL, 5000), 0);
    CHECK(th_addr_eq(&by_role, &holder));
    CHECK_RC(th_client_role(c, &by_role, "nobody", NULL, 5000), TH_ENOENT);
    snprintf(cmd, sizeof cmd, "'%s' --endpoint %s role nobody >/dev/null 2>&1",
             getenv("THESPIAN_CLI"), f.h.endpoint);
    CHECK(system(cmd) != 0);
    /* AutoUnload: v1 goes once its actor has exited */
    char *text = NULL;
    for (int i = 0; i < 300; i++) {
        th_client_free(text);
        CHECK_RC(th_client_sources(c, &text), 0);
        if (strstr(text, h1) == NULL)
            break;
        hu_sleep_ms(10);
    }
    CHECK(strstr(text, h1) == NULL && strstr(text, h2) != NULL);
    th_client_free(text);
    th_client_close(c);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

TH_TEST_MAIN(TH_CASE(hot_swap_under_requests_answers_each_once))

/*
 * tests/hostile/runtime_hostile_test.c — bad input at the runtime layer:
 * malformed plugins, unknown classes, reserved message types from user
 * code, oversized payloads, dead and forged addresses, bad names. Every
 * case checks the exact code, the diag text where there is one, that
 * nothing was registered, and that the system still answers (I3).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_util.h"

static th_system_t *
sys_small_payload(void)
{
    th_system_opts_t o = {.workers = 2, .max_payload = 1024};
    return rt_system(&o, rt_all_plugins);
}

/* I3: the host lives and its actors answer. */
static void
probe(th_system_t *sys)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t g = rt_create(sys, "hello.Greeter");
    json_t *r = rt_ask(in, &g, "Greet", "{\"name\":\"probe\"}", "Greeting");
    CHECK_STREQ(rt_str(r, "text"), "Hello, probe!");
    json_decref(r);
    th_inbox_destroy(in);
}

static void
refused(th_system_t *sys, const char *plugin, int code, const char *text)
{
    th_diag_t d = {0};
    CHECK_RC(th_system_load_plugin(sys, rt_plugin_path(plugin), &d), code);
    CHECK_EQ(d.code, code);
    CHECK_CONTAINS(d.msg, rt_plugin_path(plugin)); /* names the file */
    CHECK_CONTAINS(d.msg, text);                   /* and the reason */
}

TH_TEST(malformed_plugins_are_refused)
{
    th_system_t *sys = sys_small_payload();
    refused(sys, "bad_major", TH_EABI, "major version differs");
    refused(sys, "bad_magic", TH_EABI, "bad magic");
    refused(sys, "newer_minor", TH_EABI, "newer than host ABI");
    refused(sys, "short_size", TH_EABI, "descriptor size");
    refused(sys, "no_descriptor", TH_ENOENT, "no th_plugin_v1 descriptor");
    refused(sys, "bad_class", TH_EABI, "invalid name");
    refused(sys, "huge_state", TH_EABI, "state_size");
    /* I6: nothing of them was registered */
    th_addr_t a;
    CHECK_RC(th_system_create_actor(sys, &a, "huge_state.Huge", NULL),
             TH_ENOENT);
    probe(sys);
    th_system_destroy(sys);
}

/* ABI minors only grow: a 1.0 plugin keeps loading, and the host reads
 * only the `size` bytes of its class (the tail would be refused). */
TH_TEST(older_minor_plugin_loads_and_runs)
{
    th_system_t *sys = sys_small_payload();
    th_diag_t d = {0};
    CHECK_RC(th_system_load_plugin(sys, rt_plugin_path("abi10"), &d), 0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "abi10.Old");
    CHECK_RC(th_inbox_send(in, &a, "ping", "x", 1), 0);
    th_inmsg_t *m = NULL;
    CHECK_RC(th_inbox_recv(in, &m, 5000), 0);
    CHECK_STREQ(m->type, "pong");
    th_inmsg_free(m);
    th_inbox_destroy(in);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(files_that_are_not_plugins)
{
    th_system_t *sys = sys_small_payload();
    char dir[] = "/tmp/th-hostile-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/text.so", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "not an ELF file\n", 16) == 16);
    close(fd);
    const char *paths[] = {path, "/nonexistent/plugin.so", dir};
    for (int i = 0; i < 3; i++) {
        th_diag_t d = {0};
        CHECK_RC(th_system_load_plugin(sys, paths[i], &d), TH_ENOENT);
        CHECK_CONTAINS(d.msg, paths[i]);
        CHECK_CONTAINS(d.msg, "cannot load plugin");
    }
    unlink(path);
    rmdir(dir);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(duplicate_plugin_refused_first_kept)
{
    th_system_t *sys = sys_small_payload();
    th_diag_t d = {0};
    CHECK_RC(th_system_load_plugin(sys, rt_plugin_path("hello"), &d),
             TH_EEXIST);
    CHECK_CONTAINS(d.msg, "already loaded");
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(unknown_and_malformed_class_names)
{
    th_system_t *sys = sys_small_payload();
    th_addr_t a;
    const char *names[] = {"hello.Nobody", "nobody.Greeter", "Greeter", "",
                           "hello.", ".Greeter"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK_RC(th_system_create_actor(sys, &a, names[i], NULL), TH_ENOENT);
    CHECK_RC(th_system_create_actor(sys, &a, NULL, NULL), TH_EINVAL);
    th_create_opts_t bad = {.size = 3};
    CHECK_RC(th_system_create_actor(sys, &a, "hello.Greeter", &bad),
             TH_EINVAL);
    th_create_opts_t ctl = {.size = sizeof ctl, .global_name = "a\nb"};
    CHECK_RC(th_system_create_actor(sys, &a, "hello.Greeter", &ctl),
             TH_EINVAL);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 0);
    probe(sys);
    th_system_destroy(sys);
}

static int
send_as(th_inbox_t *in, const th_addr_t *sender, const th_addr_t *to,
        const char *type, int size)
{
    char a[TH_ADDR_STRLEN], body[256];
    rt_addr_str(to, a);
    snprintf(body, sizeof body,
             "{\"to\":\"%s\",\"type\":\"%s\",\"size\":%d}", a, type, size);
    json_t *r = rt_ask(in, sender, "SendAs", body, "SendResult");
    int rc = (int)rt_int(r, "rc");
    json_decref(r);
    return rc;
}

TH_TEST(reserved_types_refused_from_user_code)
{
    th_system_t *sys = sys_small_payload();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "rtactors.Sender");
    th_addr_t c = rt_create(sys, "testactors.Counter");
    const char *reserved[] = {TH_MSG_CHILD_EXITED, TH_MSG_POISON,
                              TH_MSG_WAKEUP, TH_MSG_DEAD_ENVELOPE,
                              TH_MSG_SYSTEM_STATUS, TH_MSG_ACTOR_STATUS,
                              TH_MSG_LOADED_SOURCE, TH_MSG_VALIDATE_SOURCE};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        CHECK_RC(send_as(in, &s, &c, reserved[i], 0), TH_ERESERVED);
        CHECK_RC(th_system_tell(sys, &c, reserved[i], "{}", 2), TH_ERESERVED);
    }
    /* what users may send still goes through */
    CHECK_RC(send_as(in, &s, &c, TH_MSG_STATUS_REQ, 0), 0);
    json_t *r = rt_ask(in, &c, "Get", "", "Count");
    CHECK_EQ(rt_int(r, "count"), 0); /* nothing reserved arrived */
    json_decref(r);
    th_inbox_destroy(in);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(payload_over_the_limit)
{
    th_system_t *sys = sys_small_payload(); /* limit: 1024 bytes */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "rtactors.Sender");
    th_addr_t c = rt_create(sys, "testactors.Counter");
    CHECK_RC(send_as(in, &s, &c, "Big", 1025), TH_ETOOBIG);
    CHECK_RC(send_as(in, &s, &c, "Fits", 1024), 0);
    CHECK_RC(send_as(in, &s, &c, "Empty", 0), 0);
    char big[1025] = {0};
    CHECK_RC(th_system_tell(sys, &c, "Big", big, sizeof big), TH_ETOOBIG);
    CHECK_RC(th_inbox_send(in, &c, "Big", big, sizeof big), TH_ETOOBIG);
    json_t *r = rt_ask(in, &c, "Get", "", "Count");
    CHECK_EQ(rt_int(r, "count"), 2);
    json_decref(r);
    th_inbox_destroy(in);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(exit_request_to_a_dead_actor)
{
    th_system_t *sys = sys_small_payload();
    th_addr_t c = rt_create(sys, "testactors.Counter");
    CHECK_RC(th_system_tell(sys, &c, TH_MSG_EXIT_REQUEST, "", 0), 0);
    rt_wait_dead(sys, &c);
    th_system_stats_t before, after;
    th_system_stats(sys, &before);
    CHECK_RC(th_system_tell(sys, &c, TH_MSG_EXIT_REQUEST, "", 0), TH_EDEAD);
    th_system_stats(sys, &after);
    CHECK_EQ(after.dead_letters, before.dead_letters + 1);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(never_existing_and_forged_addresses)
{
    th_system_t *sys = sys_small_payload();
    th_addr_t c = rt_create(sys, "testactors.Counter");
    char text[TH_ADDR_STRLEN];
    rt_addr_str(&c, text);
    th_addr_t a = c;
    a.opaque[1] = 999999; /* no such slot */
    CHECK_RC(th_system_tell(sys, &a, "Hi", "", 0), TH_EDEAD);
    a = c;
    a.opaque[2] ^= 1; /* right slot, guessed nonce */
    CHECK_RC(th_system_tell(sys, &a, "Hi", "", 0), TH_EDEAD);
    a = c;
    a.opaque[0] ^= 1; /* another system */
    CHECK_RC(th_system_tell(sys, &a, "Hi", "", 0), TH_EDEAD);
    th_addr_t none = {{0, 0, 0}};
    CHECK_RC(th_system_tell(sys, &none, "Hi", "", 0), TH_EADDR);
    const char *garbage[] = {"", "th1:", "th2:0000000000000001:1:0000000000000001",
                             "th1:00000000000000:1:0000000000000001",
                             "th1:000000000000000g:1:0000000000000001",
                             "th1:0000000000000001::0000000000000001",
                             "th1:0000000000000001:99999999999:0000000000000001",
                             "th1:0000000000000001:1:0000000000000000",
                             "th1:0000000000000001:1:00000000000000011",
                             "th1:0000000000000001:1:00000000000000 1",
                             "TH1:0000000000000001:1:0000000000000001"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
        CHECK_RC(th_addr_from_string(&a, garbage[i]), TH_EADDR);
    CHECK_RC(th_addr_from_string(&a, text), 0);
    CHECK(th_addr_eq(&a, &c));
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.dead_letters, 4);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(invalid_message_type_names)
{
    th_system_t *sys = sys_small_payload();
    th_addr_t c = rt_create(sys, "testactors.Counter");
    char long_name[80];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"", "has space", "semi;colon", "quote\"",
                         "new\nline", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_RC(th_system_tell(sys, &c, bad[i], "", 0), TH_EINVAL);
    CHECK_RC(th_system_tell(sys, &c, NULL, "", 0), TH_EINVAL);
    CHECK_RC(th_system_tell(sys, &c, "Ok.Name:v2-x", "", 0), 0);
    probe(sys);
    th_system_destroy(sys);
}

TH_TEST(flood_from_one_sender_leaves_others_unaffected)
{
    th_system_opts_t o = {.workers = 2, .mailbox_limit = 1000};
    th_system_t *sys = rt_system(&o, rt_all_plugins);
    th_addr_t busy = rt_create(sys, "rtactors.Busy");
    int refused = 0;
    for (int i = 0; i < 5000; i++) {
        int rc = th_system_tell(sys, &busy, "Spin", "{\"ms\":1}", 8);
        CHECK(rc == 0 || rc == TH_EFULL);
        refused += rc == TH_EFULL;
    }
    CHECK(refused > 0); /* the flood met back-pressure... */
    probe(sys);         /* ...and everyone else is still served */
    th_system_destroy(sys);
}

TH_TEST_MAIN(TH_CASE(malformed_plugins_are_refused),
             TH_CASE(older_minor_plugin_loads_and_runs),
             TH_CASE(files_that_are_not_plugins),
             TH_CASE(duplicate_plugin_refused_first_kept),
             TH_CASE(unknown_and_malformed_class_names),
             TH_CASE(reserved_types_refused_from_user_code),
             TH_CASE(payload_over_the_limit),
             TH_CASE(exit_request_to_a_dead_actor),
             TH_CASE(never_existing_and_forged_addresses),
             TH_CASE(invalid_message_type_names),
             TH_CASE(flood_from_one_sender_leaves_others_unaffected))

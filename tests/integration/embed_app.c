/*
 * tests/integration/embed_app.c — a program that embeds the installed
 * runtime as a user would: built by embed_test.py with nothing but
 * `pkg-config --cflags --libs thespian-host` (no source tree on the
 * include path). It loads the plugin named by argv[1] into a synchronous
 * system, asks hello.Greeter to greet twice and prints the replies.
 */
#include <stdio.h>
#include <string.h>

#include <thespian/host.h>

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: embed_app PLUGIN.so\n");
        return 2;
    }
    th_system_opts_t o = {.synchronous = true};
    th_system_t *sys = NULL;
    th_diag_t d = {0};
    int rc = th_system_create(&sys, &o);
    if (rc == 0)
        rc = th_system_load_plugin(sys, argv[1], &d);
    if (rc != 0) {
        fprintf(stderr, "embed_app: %s: %s\n", th_strerror(rc), d.msg);
        th_system_destroy(sys);
        return 1;
    }
    th_addr_t g;
    th_inbox_t *in = NULL;
    rc = th_system_create_actor(sys, &g, "hello.Greeter", NULL);
    if (rc == 0)
        rc = th_inbox_create(sys, &in);
    for (int i = 0; rc == 0 && i < 2; i++) {
        const char *body = "{\"name\":\"embedder\"}";
        th_inmsg_t *m = NULL;
        rc = th_inbox_send(in, &g, "Greet", body, strlen(body));
        if (rc == 0)
            rc = th_inbox_recv(in, &m, 5000);
        if (rc == 0) {
            printf("%s %.*s\n", m->type, (int)m->len, (const char *)m->data);
            th_inmsg_free(m);
        }
    }
    th_inbox_destroy(in);
    th_system_destroy(sys);
    if (rc != 0)
        fprintf(stderr, "embed_app: %s\n", th_strerror(rc));
    return rc == 0 ? 0 : 1;
}

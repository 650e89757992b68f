/*
 * tests/integration/echo_test.c — the echo plugin (plugins/echo) in a real
 * thespiand: echo.Server made through the client, then plain TCP clients
 * on 127.0.0.1: lines back one by one, two lines in one write, a line
 * split over two writes, two clients at once, a client that leaves; and
 * hostile clients: a line over the server's line limit, NUL and non-UTF-8
 * bytes, more clients than it takes.
 */
#include <poll.h>

#include "host_util.h"
#include "th_test.h"

static const char *
echo_so(void)
{
    const char *p = getenv("ECHO_SO");
    if (p == NULL)
        TH_FAIL_AT_("ECHO_SO is not set");
    return p;
}

static int
tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_RC(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void
send_text(int fd, const char *s)
{
    CHECK_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read until `want` bytes arrived (5 s at most) and compare. */
static void
expect_text(int fd, const char *want)
{
    char buf[256];
    size_t n = 0, len = strlen(want);
    int64_t end = th_now_ms() + 5000;
    while (n < len && th_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    CHECK_STREQ(buf, want);
}

TH_TEST(echo_server_over_tcp)
{
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", echo_so(), NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    th_addr_t srv;
    CHECK_RC(th_client_create(c, &srv, "echo.Server", NULL), 0);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &srv, "Port", "", 0, 10000), 0);
    CHECK_STREQ(m->type, "Port");
    char text[16];
    snprintf(text, sizeof text, "%.*s", (int)m->len, (const char *)m->data);
    th_client_free(m);
    int port = atoi(text);
    CHECK(port > 0);

    int a = tcp_connect(port);
    send_text(a, "hello\n");
    expect_text(a, "hello\n");
    send_text(a, "one\ntwo\n"); /* two lines in one write */
    expect_text(a, "one\ntwo\n");
    send_text(a, "spl"); /* a line split over two writes */
    hu_sleep_ms(50);
    send_text(a, "it\n");
    expect_text(a, "split\n");

    int b = tcp_connect(port); /* two clients at once */
    send_text(b, "from b\n");
    send_text(a, "from a\n");
    expect_text(b, "from b\n");
    expect_text(a, "from a\n");
    close(a); /* one leaves: the other is still served */
    send_text(b, "still\n");
    expect_text(b, "still\n");
    close(b);

    /* the actor still answers, and the host shuts down cleanly */
    CHECK_RC(th_client_ask(c, &m, &srv, "Port", "", 0, 10000), 0);
    th_client_free(m);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

/* Read exactly `len` bytes (5 s at most) into buf; returns how many came. */
static size_t
read_n(int fd, char *buf, size_t len)
{
    size_t n = 0;
    int64_t end = th_now_ms() + 5000;
    while (n < len && th_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, len - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return n;
}

static int
server_port(th_client_t *c, th_addr_t *srv)
{
    CHECK_RC(th_client_create(c, srv, "echo.Server", NULL), 0);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, srv, "Port", "", 0, 10000), 0);
    char text[16];
    snprintf(text, sizeof text, "%.*s", (int)m->len, (const char *)m->data);
    th_client_free(m);
    return atoi(text);
}

TH_TEST(hostile_clients_do_not_harm_the_server)
{
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", echo_so(), NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    th_addr_t srv;
    int port = server_port(c, &srv);

    /* a 10000-byte line: echoed whole, in pieces of the line limit */
    int a = tcp_connect(port);
    static char big[10001], back[10001];
    for (size_t i = 0; i < 10000; i++)
        big[i] = (char)('a' + i % 26);
    big[10000] = '\n';
    CHECK_EQ(write(a, big, sizeof big), (ssize_t)sizeof big);
    CHECK_EQ(read_n(a, back, sizeof back), sizeof back);
    CHECK(memcmp(big, back, sizeof big) == 0);
    /* NUL and bytes that are not UTF-8 are just bytes */
    static const char bin[] = {'x', '\0', (char)0xff, (char)0xc3, '\n'};
    CHECK_EQ(write(a, bin, sizeof bin), (ssize_t)sizeof bin);
    CHECK_EQ(read_n(a, back, sizeof bin), sizeof bin);
    CHECK(memcmp(bin, back, sizeof bin) == 0);

    /* more clients than it takes (32): the extra one is closed at once,
     * the others are still served */
    int many[32];
    for (int i = 0; i < 31; i++)
        many[i] = tcp_connect(port);
    send_text(a, "sync\n"); /* all 31 are accepted once this is back */
    expect_text(a, "sync\n");
    many[31] = tcp_connect(port);
    char one;
    CHECK_EQ(read_n(many[31], &one, 1), 0); /* EOF: refused */
    CHECK(hu_log_has(&h, "clients already: refused") ||
          (hu_sleep_ms(200), hu_log_has(&h, "clients already: refused")));
    send_text(many[30], "last\n");
    expect_text(many[30], "last\n");
    for (int i = 0; i < 32; i++)
        close(many[i]);
    send_text(a, "after\n");
    expect_text(a, "after\n");
    close(a);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &srv, "Port", "", 0, 10000), 0);
    th_client_free(m);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST_MAIN(TH_CASE(echo_server_over_tcp),
             TH_CASE(hostile_clients_do_not_harm_the_server))

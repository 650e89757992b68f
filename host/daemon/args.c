/*
 * host/daemon/args.c — thespiand's command line: the usage text (docs/cli.md)
 * and the options, each checked with a message naming it (exit status 2).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/daemon/daemon.h"
#include "thespian/version.h"

static const char usage_text[] =
    "usage: thespiand [OPTIONS]\n"
    "Run one actor system behind an admin endpoint.\n"
    "\n"
    "  --endpoint E            admin endpoint, tcp://HOST:PORT or ipc://PATH\n"
    "                          (default: $THESPIAN_ENDPOINT, then\n"
    "                          $THESPIAN_DIRECTOR_DIR/adminendpoint.cfg, then\n"
    "                          " TH_WIRE_DEFAULT_ENDPOINT ")\n"
    "  --foreground            stay attached; log to standard error\n"
    "  --daemon                detach (the default) and write a pid file\n"
    "  --pidfile PATH          pid file (default in daemon mode: see docs)\n"
    "  --logfile PATH          append the log here instead of stderr\n"
    "  --log-config FILE       the actor log configuration (JSON: level,\n"
    "                          destination, format; default: the director\n"
    "                          directory's thesplog.cfg)\n"
    "  --plugin PATH           load an actor plugin .so (repeatable)\n"
    "  --director-dir DIR      run the Director's Source Authority on DIR's\n"
    "                          *_tls.key files, so signed bundles can be\n"
    "                          loaded (default: $THESPIAN_DIRECTOR_DIR; with\n"
    "                          neither, loads are refused)\n"
    "  --key-dir DIR           the admin keys live in DIR/curve: the host's\n"
    "                          CurveZMQ key pair (made at first start with\n"
    "                          an operator key) and the allow-list\n"
    "                          DIR/curve/clients/*.pub (default:\n"
    "                          $THESPIAN_KEY_DIR, else the director\n"
    "                          directory, else ~/.thespian); see\n"
    "                          docs/security.md\n"
    "  --authority PATH        the Source Authority plugin (default:\n"
    "                          $THESPIAN_AUTHORITY, else the one `meson\n"
    "                          install` put in LIBDIR/thespian)\n"
    "  --capabilities JSON     the system's capabilities, a JSON object\n"
    "  --capabilities-file P   ... read from a file\n"
    "  --workers N             worker threads (default: one per CPU)\n"
    "  --name NAME             system name in logs and status\n"
    "  --max-contexts N        client contexts at once (default 4096)\n"
    "  --stop-timeout MS       orderly shutdown bound (default 10000)\n"
    "  --max-payload BYTES     largest message body (default 16 MiB); a\n"
    "                          larger frame drops its connection\n"
    "  --help                  this text\n"
    "  --version               print the version and exit\n"
    "\n"
    "Exit status: 0 served and stopped in order, or an existing system\n"
    "already serves the endpoint; 1 failed; 2 usage error; 3 actors were\n"
    "still running at the shutdown bound (each is logged).\n";

static bool
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = (uint32_t)v;
    return true;
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "thespiand: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see thespiand --help)\n");
    return EXIT_USAGE;
}

int
thi_daemon_parse_args(options_t *o, int argc, char **argv)
{
    enum {
        O_ENDPOINT = 1,
        O_FG,
        O_DAEMON,
        O_PIDFILE,
        O_LOGFILE,
        O_PLUGIN,
        O_CAPS,
        O_CAPSFILE,
        O_WORKERS,
        O_NAME,
        O_MAXCTX,
        O_STOPTO,
        O_MAXPAY,
        O_DIRECTOR,
        O_AUTHORITY,
        O_LOGCFG,
        O_KEYDIR,
        O_HELP,
        O_VERSION
    };
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, O_ENDPOINT},
        {"foreground", no_argument, NULL, O_FG},
        {"daemon", no_argument, NULL, O_DAEMON},
        {"pidfile", required_argument, NULL, O_PIDFILE},
        {"logfile", required_argument, NULL, O_LOGFILE},
        {"plugin", required_argument, NULL, O_PLUGIN},
        {"capabilities", required_argument, NULL, O_CAPS},
        {"capabilities-file", required_argument, NULL, O_CAPSFILE},
        {"workers", required_argument, NULL, O_WORKERS},
        {"name", required_argument, NULL, O_NAME},
        {"max-contexts", required_argument, NULL, O_MAXCTX},
        {"stop-timeout", required_argument, NULL, O_STOPTO},
        {"max-payload", required_argument, NULL, O_MAXPAY},
        {"director-dir", required_argument, NULL, O_DIRECTOR},
        {"authority", required_argument, NULL, O_AUTHORITY},
        {"log-config", required_argument, NULL, O_LOGCFG},
        {"key-dir", required_argument, NULL, O_KEYDIR},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    uint32_t v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_ENDPOINT:
            o->endpoint_arg = optarg;
            break;
        case O_FG:
            o->foreground = true;
            break;
        case O_DAEMON:
            o->foreground = false;
            break;
        case O_PIDFILE:
            o->pidfile = optarg;
            break;
        case O_LOGFILE:
            o->logfile = optarg;
            break;
        case O_DIRECTOR:
            o->director_dir = optarg;
            break;
        case O_AUTHORITY:
            o->authority = optarg;
            break;
        case O_LOGCFG:
            o->log_config = optarg;
            break;
        case O_KEYDIR:
            o->key_dir = optarg;
            break;
        case O_PLUGIN:
            if (o->n_plugins == MAX_PLUGINS)
                return usage_error("more than %s --plugin options", "256");
            o->plugins[o->n_plugins++] = optarg;
            break;
        case O_CAPS:
            o->caps_arg = optarg;
            break;
        case O_CAPSFILE:
            o->caps_file = optarg;
            break;
        case O_WORKERS:
            if (!parse_u32(optarg, 1024, &o->workers))
                return usage_error("--workers %s: want 0..1024", optarg);
            break;
        case O_NAME:
            o->name = optarg;
            break;
        case O_MAXCTX:
            if (!parse_u32(optarg, 1000000, &o->max_contexts) ||
                o->max_contexts == 0)
                return usage_error("--max-contexts %s: want 1..1000000",
                                   optarg);
            break;
        case O_STOPTO:
            if (!parse_u32(optarg, 3600000, &v) || v == 0)
                return usage_error("--stop-timeout %s: want 1..3600000 ms",
                                   optarg);
            o->stop_timeout_ms = (int)v;
            break;
        case O_MAXPAY:
            if (!parse_u32(optarg, 1u << 30, &o->max_payload) ||
                o->max_payload == 0)
                return usage_error("--max-payload %s: want 1..1073741824",
                                   optarg);
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            exit(EXIT_OK);
        case O_VERSION: /* the meson project's version (meson.build) */
            printf("thespiand %s\n", TH_VERSION);
            exit(EXIT_OK);
        default:
            return usage_error("unknown or incomplete option %s",
                               argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument %s", argv[optind]);
    if (o->caps_arg && o->caps_file)
        return usage_error("%s", "give --capabilities or --capabilities-file, "
                                 "not both");
    return EXIT_OK;
}

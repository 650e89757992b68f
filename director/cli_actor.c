/*
 * director/cli_actor.c — the commands that talk to actors: create a
 * top-level actor, tell one a message, ask one and print the reply. An
 * actor is named by its printed address (th1:...) or its global name.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "base/text.h"

/* ---- create -------------------------------------------------------------- */

/* After "class X is ambiguous: ... (H1, H2)": the candidates' groups and
 * versions, so the user can choose a --source. */
static void
print_candidates(th_client_t *c, const char *errmsg)
{
    char msg[1024]; /* errmsg is the context's, which the next call clears */
    snprintf(msg, sizeof msg, "%s", errmsg);
    char *text = NULL;
    if (th_client_sources(c, &text) != 0)
        return;
    json_t *all = json_loads(text, 0, NULL);
    th_client_free(text);
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s)
    {
        const char *h = json_string_value(json_object_get(s, "hash"));
        char short_hash[13];
        snprintf(short_hash, sizeof short_hash, "%.12s", h ? h : "");
        if (h == NULL || strlen(h) < 12 || !strstr(msg, short_hash))
            continue;
        const char *v = json_string_value(json_object_get(s, "version"));
        fprintf(stderr, "  --source %s  (group %s version %s)\n", short_hash,
                cli_safe(json_string_value(json_object_get(s, "group"))),
                v ? cli_safe(v) : "(unversioned)");
    }
    json_decref(all);
}

static int
run_create(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_create;
    const char *name = NULL, *source = NULL, *req = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {{"name", CLI_STRING, &name},
                              {"source", CLI_STRING, &source},
                              {"req", CLI_STRING, &req},
                              {"json", CLI_FLAG, &as_json},
                              {NULL, 0, NULL}};
    const char *pos[1];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n_pos, &done))
        return done;
    if (req) {
        json_error_t jerr;
        json_t *v = json_loads(req, JSON_REJECT_DUPLICATES, &jerr);
        bool ok = json_is_object(v);
        json_decref(v);
        if (!ok)
            return cli_usage_error(cmd, "--req: want a JSON object (%s)",
                                   v ? "not an object" : jerr.text);
    }
    char ep[TH_CLIENT_ENDPOINT_MAX];
    th_client_t *c = NULL;
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK ||
        cli_connect(cmd, ep, &c) != CLI_OK)
        return CLI_FAIL;
    th_client_create_opts_t copts = {.size = sizeof copts,
                                     .global_name = name,
                                     .source_hash = source,
                                     .requirements_json = req};
    th_addr_t addr;
    int rc = th_client_create(c, &addr, pos[0], &copts);
    if (rc != 0) {
        cli_fail(cmd, "%s", th_client_errmsg(c));
        if (rc == TH_ESOURCE && strstr(th_client_errmsg(c), "is ambiguous"))
            print_candidates(c, th_client_errmsg(c));
        th_client_close(c);
        return CLI_FAIL;
    }
    char text[TH_ADDR_STRLEN];
    th_client_addr_format(&addr, text, sizeof text);
    if (as_json) {
        json_t *o = json_pack("{s:s}", "address", text);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s\n", text);
    }
    th_client_close(c);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_create = {
    "create",
    "create a top-level actor and print its address",
    "usage: thespian create CLASS [--name GLOBALNAME] [--source HASH]\n"
    "                       [--req JSON] [--endpoint E] [--json]\n"
    "Create a top-level actor of CLASS (PLUGIN.CLASS) and print its address.\n"
    "--name gives it a global name (an existing live actor of that name is\n"
    "returned instead); --source names the loaded source to take the class\n"
    "from; --req is a JSON object of required capabilities. --json prints\n"
    "{\"address\"}.\n"
    "Errors: InvalidActorSpecification (unknown class), \n"
    "NoCompatibleSystemForActor, InvalidActorSourceHash (no such source, or\n"
    "CLASS is in several loaded sources: they are listed; choose one with\n"
    "--source).\n",
    run_create,
};

/* ---- tell / ask ---------------------------------------------------------- */

static bool
by_name(const char *target)
{
    return strncmp(target, "th1:", 4) != 0;
}

/* The common front of tell and ask: TARGET TYPE [JSON]. A name is looked
 * up first for a clear error when nobody holds it. */
static int
prepare(const cli_cmd_t *cmd, const char **pos, size_t n_pos, th_client_t **c,
        th_addr_t *to)
{
    if (n_pos == 3) {
        json_error_t jerr;
        json_t *v =
            json_loads(pos[2], JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL)
            return cli_usage_error(cmd, "the body is not JSON: %s", jerr.text);
        json_decref(v);
    }
    char ep[TH_CLIENT_ENDPOINT_MAX];
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK ||
        cli_connect(cmd, ep, c) != CLI_OK)
        return CLI_FAIL;
    if (cli_target(cmd, *c, pos[0], to) != CLI_OK) {
        th_client_close(*c);
        *c = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int
run_tell(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_tell;
    const char *pos[3];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, NULL, pos, 2, 3, &n_pos, &done))
        return done;
    th_client_t *c = NULL;
    th_addr_t to;
    int rc = prepare(cmd, pos, n_pos, &c, &to);
    if (rc != CLI_OK)
        return rc;
    const char *body = n_pos == 3 ? pos[2] : "";
    /* a name is resolved by the host as it queues: a hot swap in between
     * cannot lose the message */
    rc = by_name(pos[0])
             ? th_client_tell_name(c, pos[0], pos[1], body, strlen(body))
             : th_client_tell(c, &to, pos[1], body, strlen(body));
    if (rc != 0)
        cli_fail(cmd, "%s", th_client_errmsg(c));
    th_client_close(c);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

const cli_cmd_t cli_cmd_tell = {
    "tell",
    "send a message to an actor",
    "usage: thespian tell ADDR|NAME TYPE [JSON] [--endpoint E]\n"
    "Send a message of TYPE with the JSON body (default: empty) to the actor\n"
    "at ADDR (th1:...) or with the global name NAME. Does not wait for an\n"
    "answer; a message the host cannot deliver becomes a dead letter.\n",
    run_tell,
};

/* Print a reply: its type, then its body on the same line: JSON as is,
 * control bytes and invalid UTF-8 escaped (an actor's bytes must not
 * drive the terminal or break the line). */
static void
print_msg(const th_client_msg_t *m)
{
    printf("%s", cli_safe(m->type));
    if (m->len) {
        size_t cap = 4 * m->len + 1;
        char *esc = malloc(cap);
        if (esc == NULL) {
            fputs(" (no memory to show the body)", stdout);
        } else {
            thi_text_escape(esc, cap, m->data, m->len, THI_TEXT_SINK);
            printf(" %s", esc);
            free(esc);
        }
    }
    putchar('\n');
}

/* The reply as {"type", "sender", "body"}: a JSON body as JSON; any
 * other body as "text" (a string when it is UTF-8) or, failing that,
 * "textEscaped" (escaped as print_msg shows it). */
static void
print_msg_json(const th_client_msg_t *m)
{
    char sender[TH_ADDR_STRLEN];
    th_client_addr_format(&m->sender, sender, sizeof sender);
    json_t *o = json_pack("{s:s, s:s}", "type", m->type, "sender", sender);
    json_t *body = m->len ? json_loadb(m->data, m->len,
                                       JSON_DECODE_ANY |
                                           JSON_REJECT_DUPLICATES,
                                       NULL)
                          : json_null();
    if (body) {
        json_object_set_new(o, "body", body);
    } else if ((body = json_stringn(m->data, m->len)) != NULL) {
        json_object_set_new(o, "text", body);
    } else {
        size_t cap = 4 * m->len + 1;
        char *esc = malloc(cap);
        if (esc) {
            thi_text_escape(esc, cap, m->data, m->len, THI_TEXT_SINK);
            json_object_set_new(o, "textEscaped", json_string(esc));
            free(esc);
        }
    }
    cli_json_print(o);
    json_decref(o);
}

static int
run_ask(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_ask;
    const char *timeout = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {{"timeout", CLI_STRING, &timeout},
                              {"json", CLI_FLAG, &as_json},
                              {NULL, 0, NULL}};
    const char *pos[3];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 2, 3, &n_pos, &done))
        return done;
    int timeout_ms = 10000;
    if (timeout && !cli_seconds(timeout, &timeout_ms))
        return cli_usage_error(cmd, "--timeout %s: want seconds", timeout);
    th_client_t *c = NULL;
    th_addr_t to;
    int rc = prepare(cmd, pos, n_pos, &c, &to);
    if (rc != CLI_OK)
        return rc;
    const char *body = n_pos == 3 ? pos[2] : "";
    th_client_msg_t *m = NULL;
    rc = by_name(pos[0]) ? th_client_ask_name(c, &m, pos[0], pos[1], body,
                                              strlen(body), timeout_ms)
                         : th_client_ask(c, &m, &to, pos[1], body,
                                         strlen(body), timeout_ms);
    if (rc != 0) {
        cli_fail(cmd, "%s: %s", th_errname(rc), th_client_errmsg(c));
        th_client_close(c);
        return CLI_FAIL;
    }
    if (as_json)
        print_msg_json(m);
    else
        print_msg(m);
    th_client_msg_free(m);
    th_client_close(c);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_ask = {
    "ask",
    "send a message to an actor and print the reply",
    "usage: thespian ask ADDR|NAME TYPE [JSON] [--timeout SECONDS]\n"
    "                    [--endpoint E] [--json]\n"
    "Send a message of TYPE with the JSON body (default: empty) to the actor\n"
    "at ADDR (th1:...) or with the global name NAME and print the reply as\n"
    "\"TYPE BODY\". Waits up to --timeout (default 10 s); no reply in time is\n"
    "ActorSystemRequestTimeout (exit 1).\n",
    run_ask,
};

/*
 * plugins/bank/bank.c — a bank whose accounts are child actors. Shows
 * th_create from inside an actor, a request/answer flow between actors with
 * no blocking and no table of pending requests, and refusing bad input
 * versus failing. One file on purpose: an example is read top to bottom.
 *
 * Client protocol ("bank.Bank"; bodies are JSON objects; every answer goes
 * to the sender of the request; amounts and balances are integers, e.g.
 * cents):
 *   Open     {"account": S, "balance": N}   N >= 0, may be left out (0)
 *              -> Opened      {"account": S, "balance": N}
 *   Deposit  {"account": S, "amount": N}    N > 0
 *              -> Deposited   {"account": S, "amount": N, "balance": B}
 *   Withdraw {"account": S, "amount": N}    N > 0
 *              -> Withdrawn   {"account": S, "amount": N, "balance": B}
 *   Balance  {"account": S}
 *              -> Balance     {"account": S, "balance": B}
 *   Transfer {"from": S, "to": S, "amount": N}
 *              -> Transferred {"from": S, "to": S, "amount": N}
 *   Any request that cannot be done changes nothing and is answered
 *              -> Refused     {"reason": TEXT}
 *   with TEXT one of: "no such account", "insufficient funds",
 *   "amount must be a positive integer", "balance would overflow",
 *   "account exists", "too many accounts", "bad account name",
 *   "balance must be a non-negative integer", "body is not a JSON object",
 *   "unknown request", "account restarting, try again",
 *   "account unavailable: ...", "account failed: ...".
 * Account names are 1-63 bytes; a bank holds up to 64 accounts.
 *
 * Design
 * ------
 * Clients talk only to the Bank. Each account is a child actor
 * "bank.Account" whose address never leaves the Bank, so only the Bank (and
 * the account itself) can send it anything. The Bank's state is a fixed
 * table of name -> child address.
 *
 * Who answers the client. th_forward would pass the client's bytes on
 * unchanged, but the account would see the Bank as the sender and could not
 * answer the client. So the Bank re-encodes each request for the account as
 * {"amount": A, "ref": R}. R is a continuation: what the Bank must do with
 * the answer, including the client's address as a string
 * (th_addr_format). The account answers every request to its sender, the
 * Bank, with AccountResult, copying R back untouched; the Bank reads the
 * client's address back (th_addr_parse) and answers it. This gives:
 *  - no table of requests in flight: any number may be pending and the
 *    state keeps a fixed size;
 *  - Transfer uses the same mechanism twice (withdraw at the source, then
 *    deposit at the target, or give the money back to the source);
 *  - the Bank takes an AccountResult only from one of its own accounts,
 *    so nobody can forge "withdrawn" to make money appear;
 * for the price of one more hop per request.
 *
 * Refuse, do not fail. The account checks every value the client chose
 * (the amount is an integer > 0, funds suffice, no overflow) and answers
 * Refused without changing anything. A failing handler would make the
 * runtime retry the request and then return it to the Bank as
 * PoisonMessage: a failure says "this request broke the actor", and a bad
 * amount shows no such thing.
 *
 * Impossible requests fail. A body the Bank never sends (not a JSON object,
 * no "ref", a bad Init, an unknown type) means the Bank<->Account protocol
 * itself is broken. The account then fails (th_fail) before changing
 * anything: the runtime retries the message once on the same account and,
 * when that fails too, returns it to its sender (the Bank) as
 * PoisonMessage. The Bank logs it and answers the client the request came
 * from, if any. The account keeps its balance (Thespian's rule: a failed
 * message never costs an actor its state).
 *
 * An account is closed until its Init: requests that reach it then are
 * answered "restarting" and change nothing; the Bank refuses them to
 * clients ("try again") and resends its own refunds.
 *
 * Account protocol (internal; sent only by the Bank or the account itself):
 *   Init     {"balance": N}    no answer; acted on only while closed
 *   Deposit  {"amount": A, "ref": R}
 *   Withdraw {"amount": A, "ref": R}
 *   Balance  {"ref": R}
 *     -> AccountResult {"ok": true,  "balance": B, "ref": R}
 *      | AccountResult {"ok": false, "reason": TEXT, "ref": R}
 *      | AccountResult {"ok": false, "restarting": true, "ref": R}
 * R is {"op": OP, "account": NAME, "client": ADDR|null, ...}; OP is one of
 * Deposit, Withdraw, Balance, TransferOut, TransferIn, Refund.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

#define BANK_MAX_ACCOUNTS 64
#define ACCOUNT_NAME_SIZE 64 /* bytes, with the NUL */
#define REFUND_TRIES 3       /* see refund_again() */


/* ======================= bank.Account ===================================== */

typedef struct account {
    bool open; /* false before Init */
    int64_t balance;
} account_t;

/* Fail the current message: retried once, then returned to the Bank as
 * PoisonMessage; the account keeps its state. */
static int
account_fail(th_ctx_t *ctx, const account_t *a, const char *why)
{
    (void)a;
    return th_fail(ctx, why);
}

/* Answer the Bank (the sender) with AccountResult: `result` (taken) gets
 * the request's "ref" added. An answer that cannot be sent is logged, not
 * failed: a restart would not bring a full or gone Bank back. */
static int
account_answer(th_ctx_t *ctx, const th_msg_t *msg, const json_t *req,
               json_t *result)
{
    if (result != NULL &&
        json_object_set(result, "ref", json_object_get(req, "ref")) != 0) {
        json_decref(result);
        result = NULL;
    }
    int rc = th_send_json_new(ctx, &msg->sender, "AccountResult", result);
    if (rc != 0)
        th_log(ctx, TH_LOG_ERROR, "bank.Account: answer to %s lost: %s",
               msg->type, th_strerror(rc));
    return 0;
}

static int
account_refuse(th_ctx_t *ctx, const th_msg_t *msg, const json_t *req,
               const char *reason)
{
    return account_answer(ctx, msg, req,
                          json_pack("{s:b, s:s}", "ok", 0, "reason", reason));
}

static int
account_done(th_ctx_t *ctx, const th_msg_t *msg, const json_t *req,
             int64_t balance)
{
    return account_answer(
        ctx, msg, req,
        json_pack("{s:b, s:I}", "ok", 1, "balance", (json_int_t)balance));
}

/* Common start of Deposit, Withdraw and Balance. Returns 1 with *out (a
 * new reference) when the caller should go on; otherwise the message has
 * been dealt with and the return value is the handler's result. */
static int
account_request(th_ctx_t *ctx, account_t *a, const th_msg_t *msg, json_t **out)
{
    json_t *req = th_msg_json(msg);
    if (!json_is_object(req) || json_object_get(req, "ref") == NULL) {
        /* The Bank always sends an object with a ref: this is the broken
         * protocol case, so fail (PoisonMessage to the sender). */
        json_decref(req);
        return account_fail(ctx, a, "request is not a JSON object with a ref");
    }
    if (!a->open) { /* restarted, the Init with our balance is queued */
        int rc = account_answer(
            ctx, msg, req, json_pack("{s:b, s:b}", "ok", 0, "restarting", 1));
        json_decref(req);
        return rc;
    }
    *out = req;
    return 1;
}

/* The amount the client chose: an integer > 0, else false (refuse). */
static bool
amount_of(const json_t *req, int64_t *out)
{
    const json_t *v = json_object_get(req, "amount");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static int
account_init(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    account_t *a = state;
    json_t *req = th_msg_json(msg);
    const json_t *v = json_object_get(req, "balance");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        json_decref(req);
        return account_fail(ctx, a, "Init needs {\"balance\": integer >= 0}");
    }
    if (a->open) {
        /* only the Bank's first Init counts */
        th_log(ctx, TH_LOG_DEBUG, "bank.Account: Init while open ignored");
    } else {
        a->open = true;
        a->balance = (int64_t)json_integer_value(v);
    }
    json_decref(req);
    return 0;
}

static int
account_deposit(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    account_t *a = state;
    json_t *req = NULL;
    int64_t amount = 0;
    int rc = account_request(ctx, a, msg, &req);
    if (rc != 1)
        return rc;
    if (!amount_of(req, &amount))
        rc = account_refuse(ctx, msg, req, "amount must be a positive integer");
    else if (a->balance > INT64_MAX - amount)
        rc = account_refuse(ctx, msg, req, "balance would overflow");
    else {
        a->balance += amount;
        rc = account_done(ctx, msg, req, a->balance);
    }
    json_decref(req);
    return rc;
}

static int
account_withdraw(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    account_t *a = state;
    json_t *req = NULL;
    int64_t amount = 0;
    int rc = account_request(ctx, a, msg, &req);
    if (rc != 1)
        return rc;
    if (!amount_of(req, &amount))
        rc = account_refuse(ctx, msg, req, "amount must be a positive integer");
    else if (amount > a->balance)
        rc = account_refuse(ctx, msg, req, "insufficient funds");
    else {
        a->balance -= amount;
        rc = account_done(ctx, msg, req, a->balance);
    }
    json_decref(req);
    return rc;
}

static int
account_balance(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    account_t *a = state;
    json_t *req = NULL;
    int rc = account_request(ctx, a, msg, &req);
    if (rc != 1)
        return rc;
    rc = account_done(ctx, msg, req, a->balance);
    json_decref(req);
    return rc;
}

/* Anything else: runtime messages are not ours to answer; any other type
 * can only come from a broken Bank. */
static int
account_other(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (th_msg_is_runtime(msg->type))
        return 0;
    return account_fail(ctx, state, "unknown request type");
}

static const th_dispatch_t account_dispatch[] = {
    {"Init", account_init},
    {"Deposit", account_deposit},
    {"Withdraw", account_withdraw},
    {"Balance", account_balance},
};

static const th_class_t account_class = {
    .size = sizeof(th_class_t),
    .name = "Account",
    .state_size = sizeof(account_t),
    .receive = account_other,
    .dispatch = account_dispatch,
    .n_dispatch = sizeof account_dispatch / sizeof account_dispatch[0],
};

/* ======================= bank.Bank ======================================== */

typedef struct account_entry {
    char name[ACCOUNT_NAME_SIZE];
    th_addr_t addr;
} account_entry_t;

typedef struct bank {
    uint32_t n_accounts; /* entries are never removed: accounts live as
                            long as the Bank */
    account_entry_t accounts[BANK_MAX_ACCOUNTS];
} bank_t;

static int
find_by_name(const bank_t *b, const char *name)
{
    for (uint32_t i = 0; i < b->n_accounts; i++)
        if (strcmp(b->accounts[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int
find_by_addr(const bank_t *b, const th_addr_t *addr)
{
    for (uint32_t i = 0; i < b->n_accounts; i++)
        if (th_addr_eq(&b->accounts[i].addr, addr))
            return (int)i;
    return -1;
}

/* A usable account name: a JSON string of 1..63 bytes without NULs (a NUL
 * would make two different JSON names one C string). */
static const char *
name_of(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return NULL;
    size_t n = json_string_length(v);
    if (n == 0 || n >= ACCOUNT_NAME_SIZE || strlen(s) != n)
        return NULL;
    return s;
}

/* Answer a client. body is taken; a null client (a tell from outside)
 * gets nothing. Failures are logged: the Bank must not fail (a restart
 * would forget every account), least of all over a client that left. */
static void
send_client(th_ctx_t *ctx, const th_addr_t *client, const char *type,
            json_t *body)
{
    if (th_addr_is_null(client)) {
        json_decref(body);
        return;
    }
    int rc = th_send_json_new(ctx, client, type, body);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "bank: %s answer not sent: %s", type,
               th_strerror(rc));
}

static void
refuse(th_ctx_t *ctx, const th_addr_t *client, const char *reason)
{
    send_client(ctx, client, "Refused", json_pack("{s:s}", "reason", reason));
}

/* The client's address as it travels in a ref: a string, or null for a
 * request told from outside the actor system. */
static json_t *
client_json(th_ctx_t *ctx, const th_addr_t *client)
{
    char text[TH_ADDR_STRLEN];
    if (th_addr_is_null(client) ||
        th_addr_format(ctx, client, text, sizeof text) != 0)
        return json_null();
    return json_string(text);
}

/* Inverse of client_json; anything unreadable is the null address, which
 * means "nobody to answer". */
static th_addr_t
client_of(th_ctx_t *ctx, const json_t *ref)
{
    th_addr_t addr;
    const char *text = json_string_value(json_object_get(ref, "client"));
    if (text == NULL || th_addr_parse(ctx, &addr, text) != 0)
        memset(&addr, 0, sizeof addr);
    return addr;
}

/* Send account `i` a request {"amount": amount, "ref": ref}. amount is
 * borrowed and may be NULL (Balance); ref is taken. */
static int
ask_account(th_ctx_t *ctx, const bank_t *b, int i, const char *type,
            json_t *amount, json_t *ref)
{
    json_t *req = json_pack("{s:o}", "ref", ref);
    if (req != NULL && amount != NULL &&
        json_object_set(req, "amount", amount) != 0) {
        json_decref(req);
        req = NULL;
    }
    return th_send_json_new(ctx, &b->accounts[i].addr, type, req);
}

/* Refuse because sending to an account failed. */
static void
refuse_unavailable(th_ctx_t *ctx, const th_addr_t *client, int rc)
{
    char reason[96];
    snprintf(reason, sizeof reason, "account unavailable: %s", th_strerror(rc));
    refuse(ctx, client, reason);
}

/* ---- Client requests ----------------------------------------------------- */

/* Parse a client request; refuses and returns NULL when it is not a JSON
 * object. */
static json_t *
client_request(th_ctx_t *ctx, const th_msg_t *msg)
{
    json_t *req = th_msg_json(msg);
    if (json_is_object(req))
        return req;
    json_decref(req);
    refuse(ctx, &msg->sender, "body is not a JSON object");
    return NULL;
}

static int
bank_open(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    bank_t *b = state;
    json_t *req = client_request(ctx, msg);
    if (req == NULL)
        return 0;
    const char *name = name_of(json_object_get(req, "account"));
    const json_t *bal = json_object_get(req, "balance");
    json_int_t balance = bal ? json_integer_value(bal) : 0;
    th_addr_t child;
    int rc;

    /* The Bank checks the opening balance itself: it answers Opened at
     * once, so the account must never see an Init it would refuse. */
    if (name == NULL)
        refuse(ctx, &msg->sender, "bad account name");
    else if (bal != NULL && (!json_is_integer(bal) || balance < 0))
        refuse(ctx, &msg->sender, "balance must be a non-negative integer");
    else if (find_by_name(b, name) >= 0)
        refuse(ctx, &msg->sender, "account exists");
    else if (b->n_accounts == BANK_MAX_ACCOUNTS)
        refuse(ctx, &msg->sender, "too many accounts");
    else if ((rc = th_create(ctx, &child, "bank.Account", NULL)) != 0)
        refuse_unavailable(ctx, &msg->sender, rc);
    else if ((rc = th_send_json_new(ctx, &child, "Init",
                                    json_pack("{s:I}", "balance", balance))) !=
             0) {
        /* An account without its Init would answer "restarting" for
         * ever: stop it rather than keep it. */
        th_exit_request(ctx, &child, true);
        refuse_unavailable(ctx, &msg->sender, rc);
    } else {
        /* Init is the child's first message, so every request the Bank
         * sends after this finds the account open. */
        account_entry_t *e = &b->accounts[b->n_accounts++];
        memcpy(e->name, name, strlen(name) + 1);
        e->addr = child;
        send_client(
            ctx, &msg->sender, "Opened",
            json_pack("{s:s, s:I}", "account", name, "balance", balance));
    }
    json_decref(req);
    return 0;
}

/* Deposit, Withdraw and Balance: pass on to the account with a ref that
 * says how to answer. */
static int
bank_account_op(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    bank_t *b = state;
    json_t *req = client_request(ctx, msg);
    if (req == NULL)
        return 0;
    const char *name = name_of(json_object_get(req, "account"));
    int i = name ? find_by_name(b, name) : -1;
    if (name == NULL) {
        refuse(ctx, &msg->sender, "bad account name");
    } else if (i < 0) {
        refuse(ctx, &msg->sender, "no such account");
    } else {
        bool is_balance = strcmp(msg->type, "Balance") == 0;
        /* The amount goes on as the client sent it (the account judges
         * it); the ref keeps a copy for the answer. */
        json_t *amount = json_object_get(req, "amount");
        json_t *ref = json_pack("{s:s, s:s, s:o}", "op", msg->type, "account",
                                name, "client", client_json(ctx, &msg->sender));
        if (ref != NULL && !is_balance && amount != NULL)
            json_object_set(ref, "amount", amount);
        int rc =
            ask_account(ctx, b, i, msg->type, is_balance ? NULL : amount, ref);
        if (rc != 0)
            refuse_unavailable(ctx, &msg->sender, rc);
    }
    json_decref(req);
    return 0;
}

/* Transfer, step 1: withdraw at the source. Both accounts are checked
 * first so that money never leaves `from` for a target that is not there. */
static int
bank_transfer(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    bank_t *b = state;
    json_t *req = client_request(ctx, msg);
    if (req == NULL)
        return 0;
    const char *from = name_of(json_object_get(req, "from"));
    const char *to = name_of(json_object_get(req, "to"));
    json_t *amount = json_object_get(req, "amount");
    int i = from ? find_by_name(b, from) : -1;
    if (from == NULL || to == NULL) {
        refuse(ctx, &msg->sender, "bad account name");
    } else if (i < 0 || find_by_name(b, to) < 0) {
        refuse(ctx, &msg->sender, "no such account");
    } else {
        json_t *ref =
            json_pack("{s:s, s:s, s:o, s:s, s:s, s:O?}", "op", "TransferOut",
                      "account", from, "client", client_json(ctx, &msg->sender),
                      "from", from, "to", to, "amount", amount);
        int rc = ask_account(ctx, b, i, "Withdraw", amount, ref);
        if (rc != 0)
            refuse_unavailable(ctx, &msg->sender, rc);
    }
    json_decref(req);
    return 0;
}

/* ---- Answers from accounts ----------------------------------------------- */

/* Transfer, step 3 on failure: give the money back to the source. The ref
 * (borrowed) becomes a Refund carrying why the transfer failed. */
static void
refund(th_ctx_t *ctx, const bank_t *b, const json_t *ref, const char *why)
{
    const char *from = json_string_value(json_object_get(ref, "from"));
    int i = from ? find_by_name(b, from) : -1;
    th_addr_t client = client_of(ctx, ref);
    json_t *r = json_deep_copy(ref);
    if (i < 0 || r == NULL ||
        json_object_set_new(r, "op", json_string("Refund")) != 0 ||
        json_object_set_new(r, "account", json_string(from)) != 0 ||
        json_object_set_new(r, "reason", json_string(why)) != 0 ||
        json_object_set_new(r, "tries", json_integer(1)) != 0) {
        json_decref(r);
        th_log(ctx, TH_LOG_CRITICAL, "bank: refund to %s not possible",
               from ? from : "?");
        refuse(ctx, &client, why);
        return;
    }
    int rc =
        ask_account(ctx, b, i, "Deposit", json_object_get(ref, "amount"), r);
    if (rc != 0) {
        th_log(ctx, TH_LOG_CRITICAL, "bank: refund to %s not sent: %s", from,
               th_strerror(rc));
        refuse(ctx, &client, why);
    }
}

/* A Refund met an account that is not open yet. The Bank's Init is
 * queued ahead of anything sent now, so one resend normally does it;
 * REFUND_TRIES bounds the loop should an account never open. */
static void
refund_again(th_ctx_t *ctx, const bank_t *b, int i, const json_t *ref)
{
    json_int_t tries = json_integer_value(json_object_get(ref, "tries"));
    const char *why = json_string_value(json_object_get(ref, "reason"));
    th_addr_t client = client_of(ctx, ref);
    json_t *r = json_deep_copy(ref);
    int rc = TH_ENOMEM;
    if (tries < REFUND_TRIES && r != NULL &&
        json_object_set_new(r, "tries", json_integer(tries + 1)) == 0) {
        rc = ask_account(ctx, b, i, "Deposit", json_object_get(ref, "amount"),
                         r);
        r = NULL;
    }
    json_decref(r);
    if (rc != 0) {
        th_log(ctx, TH_LOG_CRITICAL,
               "bank: refund to %s lost after %lld "
               "tries",
               b->accounts[i].name, (long long)tries);
        refuse(ctx, &client, why ? why : "transfer failed");
    }
}

static int
bank_result(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    bank_t *b = state;
    int i = find_by_addr(b, &msg->sender);
    if (i < 0) { /* only our own accounts may answer: see the design note */
        th_log(ctx, TH_LOG_WARNING,
               "bank: AccountResult from a stranger "
               "dropped");
        return 0;
    }
    json_t *res = th_msg_json(msg);
    json_t *ref = json_object_get(res, "ref");
    const char *op = json_string_value(json_object_get(ref, "op"));
    const char *at = json_string_value(json_object_get(ref, "account"));
    if (op == NULL || at == NULL || strcmp(at, b->accounts[i].name) != 0) {
        th_log(ctx, TH_LOG_ERROR, "bank: malformed AccountResult from %s",
               b->accounts[i].name);
        json_decref(res);
        return 0;
    }
    th_addr_t client = client_of(ctx, ref);
    json_t *amount = json_object_get(ref, "amount");
    json_t *balance = json_object_get(res, "balance");
    bool ok = json_is_true(json_object_get(res, "ok"));
    bool restarting = json_is_true(json_object_get(res, "restarting"));
    const char *why = restarting
                          ? "account restarting, try again"
                          : json_string_value(json_object_get(res, "reason"));
    if (why == NULL)
        why = "refused by account";

    if (strcmp(op, "Refund") == 0) {
        const char *first = json_string_value(json_object_get(ref, "reason"));
        if (ok) /* the money is back: tell why the transfer failed */
            refuse(ctx, &client, first ? first : "transfer failed");
        else if (restarting)
            refund_again(ctx, b, i, ref);
        else { /* cannot happen: the money came from there */
            th_log(ctx, TH_LOG_CRITICAL, "bank: refund to %s refused: %s", at,
                   why);
            refuse(ctx, &client, "transfer failed and refund refused");
        }
    } else if (!ok && strcmp(op, "TransferIn") == 0) {
        refund(ctx, b, ref, why);
    } else if (!ok) {
        refuse(ctx, &client, why);
    } else if (strcmp(op, "TransferOut") == 0) {
        /* Transfer, step 2: the money is out of `from`; put it into `to`. */
        const char *to = json_string_value(json_object_get(ref, "to"));
        int j = to ? find_by_name(b, to) : -1;
        json_t *r = json_deep_copy(ref);
        int rc = TH_ENOENT;
        if (j >= 0 && r != NULL &&
            json_object_set_new(r, "op", json_string("TransferIn")) == 0 &&
            json_object_set_new(r, "account", json_string(to)) == 0) {
            rc = ask_account(ctx, b, j, "Deposit", amount, r);
            r = NULL;
        }
        json_decref(r);
        if (rc != 0)
            refund(ctx, b, ref, "account unavailable");
    } else if (strcmp(op, "TransferIn") == 0) {
        send_client(ctx, &client, "Transferred",
                    json_pack("{s:O, s:O, s:O}", "from",
                              json_object_get(ref, "from"), "to",
                              json_object_get(ref, "to"), "amount", amount));
    } else if (strcmp(op, "Balance") == 0) {
        send_client(ctx, &client, "Balance",
                    json_pack("{s:s, s:O}", "account", at, "balance", balance));
    } else { /* Deposit, Withdraw */
        send_client(ctx, &client,
                    strcmp(op, "Deposit") == 0 ? "Deposited" : "Withdrawn",
                    json_pack("{s:s, s:O, s:O}", "account", at, "amount",
                              amount, "balance", balance));
    }
    json_decref(res);
    return 0;
}

/* A message the Bank sent failed twice in its receiver. For a request to
 * an account that is the broken-protocol case of the design note: log it,
 * and answer the client if the request names one. The body is the
 * runtime's {"type", "sender", "target", "details", "body"|"payload_b64"}. */
static int
bank_poison(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    json_t *p = th_msg_json(msg);
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *details = json_string_value(json_object_get(p, "details"));
    th_log(ctx, TH_LOG_ERROR, "bank: %s came back as PoisonMessage: %s",
           type ? type : "?", details ? details : "no details");
    const json_t *ref = json_object_get(json_object_get(p, "body"), "ref");
    if (ref != NULL) {
        char reason[160];
        th_addr_t client = client_of(ctx, ref);
        snprintf(reason, sizeof reason, "account failed: %s",
                 details ? details : "unknown reason");
        refuse(ctx, &client, reason);
    }
    json_decref(p);
    return 0;
}

/* Fallback: runtime messages (ChildActorExited: accounts only exit with the
 * Bank) need no answer; anything else is a client's unknown request. */
static int
bank_other(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (!th_msg_is_runtime(msg->type))
        refuse(ctx, &msg->sender, "unknown request");
    return 0;
}

static const th_dispatch_t bank_dispatch[] = {
    {"Open", bank_open},           {"Deposit", bank_account_op},
    {"Withdraw", bank_account_op}, {"Balance", bank_account_op},
    {"Transfer", bank_transfer},   {"AccountResult", bank_result},
    {TH_MSG_POISON, bank_poison},
};

static const th_class_t bank_class = {
    .size = sizeof(th_class_t),
    .name = "Bank",
    .state_size = sizeof(bank_t),
    .receive = bank_other,
    .dispatch = bank_dispatch,
    .n_dispatch = sizeof bank_dispatch / sizeof bank_dispatch[0],
};

TH_PLUGIN_DEFINE(bank, &bank_class, &account_class);

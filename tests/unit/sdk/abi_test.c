/*
 * tests/unit/sdk/abi_test.c — run-time checks of the SDK headers that the
 * _Static_asserts in actor.h cannot make: each header compiles on its own
 * under strict C11 (the hdr_*.c objects linked in, see meson.build), the
 * descriptor TH_PLUGIN_DEFINE builds, the error names and texts, and the
 * address helpers.
 */
#include <stdint.h>
#include <string.h>

#include "th_test.h"
#include "thespian/actor.h"
#include "thespian/error.h"

/* From the hdr_*.c translation units. */
const th_plugin_t *thi_hdr_actor_probe(void);
const char *thi_hdr_error_name(int rc);
const char *thi_hdr_error_text(int rc);
long long thi_hdr_json_probe(const char *payload);
int thi_hdr_client_diag(void);

/* Every defined code, in enum order. Codes are permanent and only
 * appended, so this list only grows; codes_are_complete fails when a code
 * is appended to error.h without being added here. */
static const int all_codes[] = {
    TH_OK,      TH_EINVAL,    TH_ENOMEM,  TH_ENOENT,  TH_EABI,     TH_EFULL,
    TH_ETOOBIG, TH_ERESERVED, TH_EDEAD,   TH_ECLOSED, TH_ELIMIT,   TH_ETIMEDOUT,
    TH_EEXIST,  TH_EIO,       TH_EFORMAT, TH_EADDR,   TH_EFAIL,    TH_ENOCOMPAT,
    TH_EBADSIG, TH_EHASH,     TH_EPERM,   TH_ESOURCE, TH_ESTARTUP,
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

TH_TEST(descriptor_from_macro)
{
    const th_plugin_t *p = thi_hdr_actor_probe();
    CHECK_EQ(p->magic, TH_PLUGIN_MAGIC);
    CHECK_EQ(p->abi_major, TH_ABI_MAJOR);
    CHECK_EQ(p->abi_minor, TH_ABI_MINOR);
    CHECK_EQ(p->size, sizeof(th_plugin_t));
    CHECK_EQ(p->n_classes, 1);
    CHECK_STREQ(p->name, "hdrcheck");
    CHECK_EQ(p->classes[0]->size, sizeof(th_class_t));
    CHECK_STREQ(p->classes[0]->name, "Probe");
    CHECK(p->classes[0]->receive != NULL);
}

TH_TEST(magic_guards)
{
    /* STYLE.md §3.2: garbage and zeroed memory are both refused at the
     * magic word only if its high bytes are not zero. */
    CHECK((TH_PLUGIN_MAGIC >> 24) != 0);
    CHECK(((TH_PLUGIN_MAGIC >> 16) & 0xFF) != 0);
    CHECK_STREQ(TH_PLUGIN_SYMBOL, "th_plugin_v1");
    CHECK(TH_SUPER > 0); /* never mistaken for success or a failure code */
}

TH_TEST(codes_are_complete)
{
    for (size_t i = 0; i < N_CODES; i++)
        CHECK_EQ(all_codes[i], -(int)i); /* dense, 0 down, no gaps */
    /* The next code would be -N_CODES: it must not have a name yet. */
    CHECK_STREQ(th_errname(-(int)N_CODES), "UnknownError");
    CHECK_STREQ(th_strerror(-(int)N_CODES), "unknown error");
    CHECK_STREQ(th_errname(1), "UnknownError");
    CHECK_STREQ(th_strerror(TH_SUPER), "unknown error");
}

TH_TEST(errnames_distinct)
{
    for (size_t i = 0; i < N_CODES; i++) {
        const char *name = th_errname(all_codes[i]);
        const char *text = th_strerror(all_codes[i]);
        CHECK(name != NULL && name[0] != '\0');
        CHECK(text != NULL && text[0] != '\0');
        if (strstr(name, "Unknown") != NULL || strstr(text, "unknown") != NULL)
            TH_FAIL_AT_("code %d has the unknown fallback", all_codes[i]);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(name, th_errname(all_codes[j])) == 0)
                TH_FAIL_AT_("codes %d and %d share the name %s", all_codes[i],
                            all_codes[j], name);
            if (strcmp(text, th_strerror(all_codes[j])) == 0)
                TH_FAIL_AT_("codes %d and %d share the text \"%s\"",
                            all_codes[i], all_codes[j], text);
        }
    }
}

TH_TEST(errnames_same_in_strict_tu)
{
    /* The strict-C11 translation unit sees the same tables. */
    for (int rc = 1; rc >= -(int)N_CODES - 1; rc--) {
        CHECK_STREQ(thi_hdr_error_name(rc), th_errname(rc));
        CHECK_STREQ(thi_hdr_error_text(rc), th_strerror(rc));
    }
}

TH_TEST(one_diag_type)
{
    /* th_client_error_t is th_diag_t: `message` and `msg` are one field. */
    CHECK(thi_hdr_client_diag());
}

TH_TEST(errnames_thespian)
{
    /* Names that match Thespian's exceptions are part of the contract. */
    CHECK_STREQ(th_errname(TH_EADDR), "InvalidActorAddress");
    CHECK_STREQ(th_errname(TH_ENOCOMPAT), "NoCompatibleSystemForActor");
    CHECK_STREQ(th_errname(TH_ESOURCE), "InvalidActorSourceHash");
    CHECK_STREQ(th_errname(TH_EINVAL), "InvalidActorSpecification");
    CHECK_STREQ(th_errname(TH_ETIMEDOUT), "ActorSystemRequestTimeout");
    CHECK_STREQ(th_errname(TH_OK), "OK");
}

static th_addr_t
addr3(uint64_t a, uint64_t b, uint64_t c)
{
    th_addr_t x = {{a, b, c}};
    return x;
}

TH_TEST(addr_null)
{
    th_addr_t zero;
    memset(&zero, 0, sizeof zero);
    CHECK(th_addr_is_null(&zero));
    for (int w = 0; w < 3; w++) {
        th_addr_t a = zero;
        a.opaque[w] = 1;
        CHECK(!th_addr_is_null(&a));
    }
}

TH_TEST(addr_eq)
{
    th_addr_t a = addr3(1, 2, 3), b = addr3(1, 2, 3);
    CHECK(th_addr_eq(&a, &b));
    CHECK(th_addr_eq(&a, &a));
    for (int w = 0; w < 3; w++) { /* every word counts */
        th_addr_t c = a;
        c.opaque[w] ^= 1ull << 63;
        CHECK(!th_addr_eq(&a, &c));
        CHECK(!th_addr_eq(&c, &a));
    }
}

TH_TEST(addr_hash)
{
    th_addr_t a = addr3(0x1234, 0x5678, 0x9abc), b = a;
    CHECK_EQ(th_addr_hash(&a), th_addr_hash(&b)); /* equal -> same hash */
    /* Addresses that differ in one word, in one bit, in low counters or in
     * word order get different hashes (a weak hash would collide here). */
    th_addr_t swapped = addr3(0x5678, 0x1234, 0x9abc);
    CHECK(th_addr_hash(&a) != th_addr_hash(&swapped));
    for (int w = 0; w < 3; w++)
        for (int bit = 0; bit < 64; bit++) {
            th_addr_t c = a;
            c.opaque[w] ^= 1ull << bit;
            if (th_addr_hash(&c) == th_addr_hash(&a))
                TH_FAIL_AT_("flipping word %d bit %d keeps the hash", w, bit);
        }
    /* Slot ids 0..4095 with one nonce: the low 12 bits of the hash (a
     * 4096-bucket table) must spread them, not pile them up. */
    static unsigned char seen[4096];
    unsigned distinct = 0;
    for (uint64_t id = 0; id < 4096; id++) {
        th_addr_t c = addr3(id, 0xfeedfacecafebeefull, 42);
        unsigned bucket = (unsigned)(th_addr_hash(&c) & 4095);
        if (!seen[bucket]++)
            distinct++;
    }
    if (distinct < 4096 / 2)
        TH_FAIL_AT_("4096 slot ids fill only %u of 4096 buckets", distinct);
}

TH_TEST(json_helpers)
{
    CHECK_EQ(thi_hdr_json_probe("{\"n\": 42}"), 42);
    CHECK_EQ(thi_hdr_json_probe("{\"n\": \"42\"}"), -2);
    CHECK_EQ(thi_hdr_json_probe("not json"), -1);
    CHECK_EQ(thi_hdr_json_probe(""), -1);
    /* Duplicate keys are refused: two readers could pick different ones. */
    CHECK_EQ(thi_hdr_json_probe("{\"n\": 1, \"n\": 2}"), -1);
}

TH_TEST_MAIN(TH_CASE(descriptor_from_macro), TH_CASE(magic_guards),
             TH_CASE(codes_are_complete), TH_CASE(errnames_distinct),
             TH_CASE(errnames_same_in_strict_tu), TH_CASE(errnames_thespian),
             TH_CASE(one_diag_type),
             TH_CASE(addr_null), TH_CASE(addr_eq), TH_CASE(addr_hash),
             TH_CASE(json_helpers))

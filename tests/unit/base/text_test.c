/*
 * tests/unit/base/text_test.c — the one escaping helper and the shared name
 * rule (base/text.c): what is escaped and how, cutting at a whole
 * escape, and which names pass.
 */
#include "base/text.h"
#include "th_test.h"

static const char *
esc(const char *s, size_t len, unsigned flags)
{
    static char buf[256];
    thi_text_escape(buf, sizeof buf, s, len, flags);
    return buf;
}

#define ESC(lit, flags) esc(lit, sizeof lit - 1, flags)

TH_TEST(control_characters_are_escaped)
{
    CHECK_STREQ(ESC("a\x1b[31mb", THI_TEXT_SINK), "a\\x1b[31mb");
    CHECK_STREQ(ESC("x\ny\rz\tw", THI_TEXT_SINK), "x\\ny\\rz\\tw");
    CHECK_STREQ(ESC("bell\a del\x7f", THI_TEXT_SINK), "bell\\x07 del\\x7f");
    CHECK_STREQ(ESC("nul\0in", THI_TEXT_SINK), "nul\\x00in");
    /* C1 controls (CSI U+009B) are terminal escapes too */
    CHECK_STREQ(ESC("c1\xc2\x9b" "2J", THI_TEXT_SINK), "c1\\xc2\\x9b2J");
}

TH_TEST(invalid_utf8_is_escaped_valid_kept)
{
    CHECK_STREQ(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", THI_TEXT_SINK),
                "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK_STREQ(ESC("bad\xff\xfe", THI_TEXT_SINK), "bad\\xff\\xfe");
    CHECK_STREQ(ESC("cut\xe2\x82", THI_TEXT_SINK), "cut\\xe2\\x82");
    CHECK_STREQ(ESC("over\xc0\xaf", THI_TEXT_SINK), "over\\xc0\\xaf");
    CHECK_STREQ(ESC("sur\xed\xa0\x80", THI_TEXT_SINK), "sur\\xed\\xa0\\x80");
    CHECK_STREQ(ESC("big\xf4\x90\x80\x80", THI_TEXT_SINK),
                "big\\xf4\\x90\\x80\\x80");
}

TH_TEST(quote_mode_escapes_backslash_and_quote)
{
    CHECK_STREQ(ESC("a\\x1b \"q\"", THI_TEXT_SINK), "a\\x1b \"q\"");
    CHECK_STREQ(ESC("a\\x1b \"q\"", THI_TEXT_QUOTE), "a\\\\x1b \\\"q\\\"");
    char buf[64];
    CHECK_STREQ(thi_text_esc(buf, sizeof buf, "g\x1b"), "g\\x1b");
    CHECK_STREQ(thi_text_esc(buf, sizeof buf, NULL), "(null)");
}

TH_TEST(output_is_cut_at_a_whole_escape)
{
    char buf[8];
    size_t need = thi_text_escape(buf, sizeof buf, "ab\x1b\x1b", 4,
                                  THI_TEXT_SINK);
    CHECK_EQ(need, 10);
    CHECK_STREQ(buf, "ab\\x1b"); /* not "ab\x1b\x" */
    need = thi_text_escape(buf, sizeof buf, "abc", 3, THI_TEXT_SINK);
    CHECK_EQ(need, 3);
    CHECK_STREQ(buf, "abc");
    /* a multibyte character is never split either */
    need = thi_text_escape(buf, 6, "abcd\xc3\xa9", 6, THI_TEXT_SINK);
    CHECK_EQ(need, 6);
    CHECK_STREQ(buf, "abcd");
    char one[1];
    thi_text_escape(one, 1, "x", 1, THI_TEXT_SINK);
    CHECK_EQ(one[0], '\0');
}

TH_TEST(clean_and_utf8_checks)
{
    CHECK(thi_text_clean("plain text, caf\xc3\xa9", 17));
    CHECK(!thi_text_clean("line\n", 5));
    CHECK(!thi_text_clean("\xc2\x9b", 2));
    CHECK(!thi_text_clean("\xff", 1));
    CHECK(thi_text_utf8_valid("a\nb\xc3\xa9", 5));
    CHECK(!thi_text_utf8_valid("a\xc3", 2));
}

TH_TEST(name_rule)
{
    CHECK(thi_text_name_problem("Greeter", 64) == NULL);
    CHECK(thi_text_name_problem("caf\xc3\xa9", 64) == NULL);
    CHECK_STREQ(thi_text_name_problem("", 64), "is empty");
    CHECK_STREQ(thi_text_name_problem(NULL, 64), "is empty");
    CHECK_STREQ(thi_text_name_problem("a\x1b", 64),
                "contains a control character");
    CHECK_STREQ(thi_text_name_problem("a\r", 64),
                "contains a control character");
    CHECK_STREQ(thi_text_name_problem("a\n", 64),
                "contains a control character");
    CHECK_STREQ(thi_text_name_problem("a\a", 64),
                "contains a control character");
    CHECK_STREQ(thi_text_name_problem("a\xc2\x85", 64),
                "contains a control character");
    CHECK_STREQ(thi_text_name_problem("a\xff", 64), "is not valid UTF-8");
    CHECK_STREQ(thi_text_name_problem("abcdef", 5),
                "is longer than the limit");
    CHECK(thi_text_name_problem("abcde", 5) == NULL);
    CHECK(thi_text_name_problem("long enough", 0) == NULL);
}

TH_TEST_MAIN(TH_CASE(control_characters_are_escaped),
             TH_CASE(invalid_utf8_is_escaped_valid_kept),
             TH_CASE(quote_mode_escapes_backslash_and_quote),
             TH_CASE(output_is_cut_at_a_whole_escape),
             TH_CASE(clean_and_utf8_checks), TH_CASE(name_rule))

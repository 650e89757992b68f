/*
 * base/text.h — the one rule for text from outside that reaches a
 * terminal or a log: control characters and invalid UTF-8 are escaped
 * (ESC as \x1b, LF as \n), so no input can forge a log line or send a
 * terminal escape; and the one rule for names (bundle entries, groups,
 * plugins, classes, message types): no control character, valid UTF-8.
 * Lives in base/ because every layer needs it — the client library,
 * the loader (diagnostics), the host (log sinks) and the CLI.
 * Pure functions: thread-safe, never allocate, never block. Never
 * installed.
 */
#ifndef TH_BASE_TEXT_H
#define TH_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Escape flags. */
#define THI_TEXT_SINK 0u      /* a log sink or terminal: only what is unsafe */
#define THI_TEXT_QUOTE 1u     /* also '\\' and '"': the result is unambiguous
                                 and can sit between quotes in a message */

/* Write `in` (len bytes; may hold NULs) escaped into out (size bytes,
 * size >= 1), always NUL-terminated. Escaped: C0 controls and DEL
 * (\n \r \t, others \xHH), C1 controls (U+0080..U+009F, each byte as
 * \xHH), every byte that is not part of well-formed UTF-8 (\xHH, also
 * overlong forms, surrogates and code points over U+10FFFF), and with
 * THI_TEXT_QUOTE '\\' and '"'. Output is cut at a whole character or
 * escape, never in the middle. Returns the bytes the whole result needs
 * (without the NUL): >= size means it was cut. */
size_t thi_text_escape(char *out, size_t size, const char *in, size_t len,
                       unsigned flags);

/* thi_text_escape of a NUL-terminated name with THI_TEXT_QUOTE, for
 * printf arguments: returns buf (size bytes). NULL prints as "(null)". */
const char *thi_text_esc(char *buf, size_t size, const char *s);

/* True when the bytes need no escaping in a sink (THI_TEXT_SINK), so
 * callers can skip the copy. */
bool thi_text_clean(const char *in, size_t len);

/* True when the len bytes are well-formed UTF-8 (controls allowed). */
bool thi_text_utf8_valid(const char *in, size_t len);

/* The name rule shared by every checker: 1..max bytes (max 0: no upper
 * bound), well-formed UTF-8, no control character (C0, DEL, C1). Returns
 * NULL when `s` passes, else the reason ("is empty", "is longer than the
 * limit", "contains a control character", "is not valid UTF-8"), a static
 * string for a diagnostic. */
const char *thi_text_name_problem(const char *s, size_t max);

#endif /* TH_BASE_TEXT_H */

/*
 * loader/logspec.c — the log configuration's schema (see logspec.h).
 */
#include "loader/logspec.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "thespian/actor.h"

static const struct {
    const char *name;
    int level;
} levels[] = {{"DEBUG", TH_LOG_DEBUG},     {"INFO", TH_LOG_INFO},
              {"WARNING", TH_LOG_WARNING}, {"ERROR", TH_LOG_ERROR},
              {"CRITICAL", TH_LOG_CRITICAL}};

static const struct {
    const char *name;
    enum thi_logfield f;
} fields[] = {{"asctime", THI_LF_ASCTIME}, {"levelname", THI_LF_LEVELNAME},
              {"levelno", THI_LF_LEVELNO}, {"actorAddress", THI_LF_ADDR},
              {"message", THI_LF_MESSAGE}, {"process", THI_LF_PROCESS}};

int
thi_logspec_level(const char *s)
{
    for (size_t i = 0; s && i < sizeof levels / sizeof *levels; i++)
        if (strcasecmp(s, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

const char *
thi_logspec_level_name(int level)
{
    for (size_t i = sizeof levels / sizeof *levels; i-- > 0;)
        if (level >= levels[i].level)
            return levels[i].name;
    return "DEBUG";
}

static int
emit(thi_logseg_fn fn, void *arg, enum thi_logfield f, const char *text,
     size_t len)
{
    return fn ? fn(arg, f, text, len) : 0;
}

int
thi_logspec_format(const char *fmt, thi_logseg_fn fn, void *arg,
                   th_diag_t *d)
{
    const char *lit = fmt;
    int rc;
    for (const char *p = fmt; *p;) {
        if (*p != '%') {
            p++;
            continue;
        }
        if (p > lit &&
            (rc = emit(fn, arg, THI_LF_TEXT, lit, (size_t)(p - lit))) != 0)
            return rc;
        if (p[1] == '%') {
            if ((rc = emit(fn, arg, THI_LF_TEXT, "%", 1)) != 0)
                return rc;
            lit = p += 2;
            continue;
        }
        const char *close = p[1] == '(' ? strchr(p + 2, ')') : NULL;
        if (close == NULL || close[1] != 's')
            return thi_diag_set(d, TH_EFORMAT,
                                "\"format\": \"%%\" at offset %ld is not "
                                "%%(field)s or %%%%",
                                (long)(p - fmt));
        size_t n = (size_t)(close - p - 2);
        bool found = false;
        for (size_t i = 0; !found && i < sizeof fields / sizeof *fields; i++)
            if (strlen(fields[i].name) == n &&
                memcmp(fields[i].name, p + 2, n) == 0) {
                if ((rc = emit(fn, arg, fields[i].f, NULL, 0)) != 0)
                    return rc;
                found = true;
            }
        if (!found)
            return thi_diag_set(d, TH_EINVAL,
                                "\"format\": unknown field %%(%.*s)s (known: "
                                "asctime, levelname, levelno, actorAddress, "
                                "message, process)",
                                (int)(n > 64 ? 64 : n), p + 2);
        lit = p = close + 2;
    }
    if (*lit && (rc = emit(fn, arg, THI_LF_TEXT, lit, strlen(lit))) != 0)
        return rc;
    return 0;
}

int
thi_logspec_check(const json_t *v, thi_logspec_t *out, th_diag_t *d)
{
    if (!json_is_object(v))
        return thi_diag_set(d, TH_EINVAL,
                            "a log configuration must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        if (strcmp(key, "level") && strcmp(key, "destination") &&
            strcmp(key, "file") && strcmp(key, "format"))
            return thi_diag_set(d, TH_EINVAL,
                                "unknown key \"%.100s\" (known: level, "
                                "destination, file, format)",
                                key);
        if (!json_is_string(val))
            return thi_diag_set(d, TH_EINVAL, "\"%s\" must be a string", key);
    }
    const json_t *lv = json_object_get(v, "level");
    const json_t *dst = json_object_get(v, "destination");
    const json_t *file = json_object_get(v, "file");
    const json_t *fmt = json_object_get(v, "format");
    if (dst && file)
        return thi_diag_set(d, TH_EINVAL,
                            "\"file\" is an alias of \"destination\": give "
                            "one of them");
    out->dest_key = file ? "file" : "destination";
    if (dst == NULL)
        dst = file;
    out->level = TH_LOG_WARNING;
    if (lv && (out->level = thi_logspec_level(json_string_value(lv))) < 0)
        return thi_diag_set(d, TH_EINVAL,
                            "\"level\": \"%.60s\" is not DEBUG, INFO, "
                            "WARNING, ERROR or CRITICAL",
                            json_string_value(lv));
    out->destination = dst ? json_string_value(dst) : "stderr";
    if (*out->destination == '\0')
        return thi_diag_set(d, TH_EINVAL, "\"%s\" is empty", out->dest_key);
    out->format = fmt ? json_string_value(fmt) : THI_LOG_DEFAULT_FORMAT;
    return thi_logspec_format(out->format, NULL, NULL, d);
}

/*
 * director/tli.c — checking a TLI document field by field (format in
 * tli.h). Every refusal names the file and the field.
 */
#include "director/tli.h"

#include <string.h>

#include "loader/plugin.h"
#include "thespian/error.h"

static bool
type_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool
class_name_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    if (dot == NULL || strchr(dot + 1, '.') != NULL ||
        (size_t)(dot - s) > TH_NAME_MAX)
        return false;
    char plugin[TH_NAME_MAX + 1];
    memcpy(plugin, s, (size_t)(dot - s));
    plugin[dot - s] = '\0';
    return thi_plugin_valid_name(plugin) && thi_plugin_valid_name(dot + 1);
}

static int
check_message(const json_t *v, const char *what, const char *cls,
              const char *field, th_diag_t *d)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: Actors.%s.%s must be {\"Message\": M}", what,
                            cls, field);
    json_t *m = json_object_get(v, "Message");
    json_t *t = json_object_get(m, "type");
    if (!json_is_object(m) || !json_is_string(t) ||
        !type_name_ok(json_string_value(t)) ||
        json_object_size(m) != 1 + (json_object_get(m, "body") != NULL))
        return thi_diag_set(d, TH_EFORMAT,
                            "%s: Actors.%s.%s.Message must be {\"type\": "
                            "NAME, \"body\": JSON}",
                            what, cls, field);
    return 0;
}

int
thi_tli_check(const json_t *tli, const char *what, th_diag_t *d)
{
    if (!json_is_object(tli))
        return thi_diag_set(d, TH_EFORMAT, "%s: a TLI must be a JSON object",
                            what);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tli, k, v)
    {
        if (strcmp(k, "Actors") == 0) {
            if (!json_is_object(v) || json_object_size(v) > 256)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: \"Actors\" must be an object of at "
                                    "most 256 classes",
                                    what);
        } else if (strcmp(k, "AutoUnload") == 0) {
            if (!json_is_boolean(v))
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: \"AutoUnload\" must be true or false",
                                    what);
        } else if (strcmp(k, "TLS_Keep_Limit") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return thi_diag_set(d, TH_EFORMAT,
                                    "%s: \"TLS_Keep_Limit\" must be a "
                                    "non-negative integer",
                                    what);
        } else {
            return thi_diag_set(d, TH_EFORMAT, "%s: unknown field \"%.64s\"",
                                what, k);
        }
    }
    const char *cls;
    json_t *a;
    json_object_foreach(json_object_get(tli, "Actors"), cls, a)
    {
        if (!class_name_ok(cls))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: \"%.80s\" is not a PLUGIN.CLASS name",
                                what, cls);
        if (!json_is_object(a))
            return thi_diag_set(d, TH_EFORMAT,
                                "%s: Actors.%s must be an object", what, cls);
        json_object_foreach(a, k, v)
        {
            int rc = 0;
            if (!strcmp(k, "Role") || !strcmp(k, "GlobalName")) {
                const char *s = json_string_value(v);
                if (s == NULL || *s == '\0' || strlen(s) > 255)
                    rc = thi_diag_set(d, TH_EFORMAT,
                                      "%s: Actors.%s.%s must be a non-empty "
                                      "string of at most 255 bytes",
                                      what, cls, k);
            } else if (!strcmp(k, "OnLoad") || !strcmp(k, "OnDeactivate") ||
                       !strcmp(k, "OnReactivate")) {
                rc = check_message(v, what, cls, k, d);
            } else {
                rc = thi_diag_set(d, TH_EFORMAT,
                                  "%s: Actors.%s has unknown field \"%.64s\"",
                                  what, cls, k);
            }
            if (rc)
                return rc;
        }
    }
    return 0;
}

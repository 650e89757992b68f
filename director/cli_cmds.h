/*
 * director/cli_cmds.h — the thespian CLI's commands, one `cli_cmd_t` each,
 * defined in the cli_<group>.c files and listed in the table in
 * thespian.c. A command uses the helpers below it (cli.h, cli_tls.h,
 * cli_host.h, cli_verdict.h), never another command.
 */
#ifndef TH_DIRECTOR_CLI_CMDS_H
#define TH_DIRECTOR_CLI_CMDS_H

#include "director/cli.h"

/* cli_system.c */
extern const cli_cmd_t cli_cmd_start;
extern const cli_cmd_t cli_cmd_shutdown;
extern const cli_cmd_t cli_cmd_status;
/* cli_actor.c */
extern const cli_cmd_t cli_cmd_create;
extern const cli_cmd_t cli_cmd_tell;
extern const cli_cmd_t cli_cmd_ask;
/* cli_keygen.c */
extern const cli_cmd_t cli_cmd_keygen;
/* cli_bundle.c */
extern const cli_cmd_t cli_cmd_gensrc;
extern const cli_cmd_t cli_cmd_tlsinfo;
/* cli_sources.c */
extern const cli_cmd_t cli_cmd_load;
extern const cli_cmd_t cli_cmd_unload;
extern const cli_cmd_t cli_cmd_list;
extern const cli_cmd_t cli_cmd_role;
/* cli_director.c */
extern const cli_cmd_t cli_cmd_config;
extern const cli_cmd_t cli_cmd_avail;
extern const cli_cmd_t cli_cmd_refresh;
/* cli_bootstart.c */
extern const cli_cmd_t cli_cmd_bootstart;
/* cli_keys.c */
extern const cli_cmd_t cli_cmd_keys;
/* cli_clients.c */
extern const cli_cmd_t cli_cmd_allow;
extern const cli_cmd_t cli_cmd_revoke;

#endif /* TH_DIRECTOR_CLI_CMDS_H */

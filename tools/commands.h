/*
 * commands.h - every command of dep11-tool, declared once. The table that
 * lists them (the help order) is commands.c: a new command is one line here
 * and one line there. struct tool_cmd is in tool.h (an extern object may
 * have an incomplete type here).
 */
#ifndef DEP11_TOOL_COMMANDS_H
#define DEP11_TOOL_COMMANDS_H

#include <stddef.h>

struct tool_cmd;

/* The table, in help order, and its length (commands.c). */
extern const struct tool_cmd *const tool_commands[];
extern const size_t tool_ncommands;

extern const struct tool_cmd tool_cmd_keys_register;      /* keys.c */
extern const struct tool_cmd tool_cmd_keys_check;
extern const struct tool_cmd tool_cmd_root_register; /* root.c */
extern const struct tool_cmd tool_cmd_root_unregister;
extern const struct tool_cmd tool_cmd_policy_create;      /* policy.c */
extern const struct tool_cmd tool_cmd_policy_show;
extern const struct tool_cmd tool_cmd_policy_unwrap;
extern const struct tool_cmd tool_cmd_mailbox_assign;     /* data.c */
extern const struct tool_cmd tool_cmd_data_seal;
extern const struct tool_cmd tool_cmd_data_open;
extern const struct tool_cmd tool_cmd_site_create;        /* site.c */
extern const struct tool_cmd tool_cmd_site_show;
extern const struct tool_cmd tool_cmd_file_seal;          /* file.c */
extern const struct tool_cmd tool_cmd_file_open;
extern const struct tool_cmd tool_cmd_audit_verify;       /* audit_verify.c */
extern const struct tool_cmd tool_cmd_receipt_verify;     /* receipt_verify.c */
extern const struct tool_cmd tool_cmd_provider_init;      /* provider.c */
extern const struct tool_cmd tool_cmd_policy_list;        /* policy_reg.c */
extern const struct tool_cmd tool_cmd_policy_enable;
extern const struct tool_cmd tool_cmd_policy_disable;
extern const struct tool_cmd tool_cmd_policy_assign_tenant;
extern const struct tool_cmd tool_cmd_policy_unassign_tenant;
extern const struct tool_cmd tool_cmd_policy_refresh;     /* lifecycle.c */
extern const struct tool_cmd tool_cmd_policy_roll_availability;
extern const struct tool_cmd tool_cmd_policy_offboard;
extern const struct tool_cmd tool_cmd_policy_purge;       /* purge.c */
extern const struct tool_cmd tool_cmd_mailbox_show;       /* store_view.c */
extern const struct tool_cmd tool_cmd_store_inventory;
extern const struct tool_cmd tool_cmd_store_verify;
extern const struct tool_cmd tool_cmd_store_rewrap;       /* store_rewrap.c */
extern const struct tool_cmd tool_cmd_store_import;       /* store_import.c */
extern const struct tool_cmd tool_cmd_probe;              /* probe.c */

#endif

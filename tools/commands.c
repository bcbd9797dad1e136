/*
 * commands.c - dep11-tool's one command table, in the order --help lists
 * it. Each command is declared in commands.h and defined in its own file.
 */
#include "tool.h"

const struct tool_cmd *const tool_commands[] = {
    &tool_cmd_keys_register,
    &tool_cmd_keys_check,
    &tool_cmd_root_register,
    &tool_cmd_root_unregister,
    &tool_cmd_policy_create,
    &tool_cmd_policy_show,
    &tool_cmd_policy_unwrap,
    &tool_cmd_mailbox_assign,
    &tool_cmd_data_seal,
    &tool_cmd_data_open,
    &tool_cmd_site_create,
    &tool_cmd_site_show,
    &tool_cmd_file_seal,
    &tool_cmd_file_open,
    &tool_cmd_audit_verify,
    &tool_cmd_receipt_verify,
    &tool_cmd_provider_init, /* the HSM's module, not dep11 */
    &tool_cmd_policy_list,
    &tool_cmd_policy_enable,
    &tool_cmd_policy_disable,
    &tool_cmd_policy_assign_tenant,
    &tool_cmd_policy_unassign_tenant,
    &tool_cmd_policy_refresh,
    &tool_cmd_policy_roll_availability,
    &tool_cmd_policy_offboard,
    &tool_cmd_policy_purge,
    &tool_cmd_mailbox_show,
    &tool_cmd_store_rewrap,
    &tool_cmd_store_inventory,
    &tool_cmd_store_verify,
    &tool_cmd_store_import,
    &tool_cmd_probe,
};

const size_t tool_ncommands = sizeof tool_commands / sizeof tool_commands[0];

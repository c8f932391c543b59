/* cli/commands.h: every command the runnel CLI has, each defined in the file for its
 * noun (topic.c, produce.c, consume.c, group.c, group_reset.c,
 * plugin.c, plugin_check.c, processor.c, user.c, bench.c, reassign.c) and listed in main.c's table. */
#ifndef RUNNEL_CLI_COMMANDS_H
#define RUNNEL_CLI_COMMANDS_H

#include "common.h"

extern const cli_command cli_topic_create;
extern const cli_command cli_topic_list;
extern const cli_command cli_topic_describe;
extern const cli_command cli_topic_alter;
extern const cli_command cli_topic_delete;
extern const cli_command cli_produce;
extern const cli_command cli_consume;
extern const cli_command cli_group_list;
extern const cli_command cli_group_describe;
extern const cli_command cli_group_delete;
extern const cli_command cli_group_reset_offsets;
extern const cli_command cli_plugin_list;
extern const cli_command cli_plugin_reload;
extern const cli_command cli_plugin_check;
extern const cli_command cli_processor_list;
extern const cli_command cli_processor_status;
extern const cli_command cli_processor_create;
extern const cli_command cli_processor_start;
extern const cli_command cli_processor_stop;
extern const cli_command cli_processor_reset;
extern const cli_command cli_processor_delete;
extern const cli_command cli_user_list;
extern const cli_command cli_user_set;
extern const cli_command cli_user_delete;
extern const cli_command cli_bench_produce;
extern const cli_command cli_bench_consume;
extern const cli_command cli_partition_reassign;
extern const cli_command cli_partition_reassignments;

#endif

/* cli/main.c: the runnel command-line tool's entry point: finds the command named by
 * the first words of argv in the dispatch table, parses its options and runs it. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const cli_command *const commands[] = {
    &cli_topic_create, &cli_topic_list, &cli_topic_describe, &cli_topic_alter, &cli_topic_delete,
    &cli_produce,      &cli_consume,    &cli_group_list,     &cli_group_describe, &cli_group_delete,
    &cli_group_reset_offsets,
    &cli_plugin_list,  &cli_plugin_reload, &cli_plugin_check,
    &cli_processor_list, &cli_processor_status, &cli_processor_create, &cli_processor_start,
    &cli_processor_stop, &cli_processor_reset, &cli_processor_delete,
    &cli_user_list,    &cli_user_set,   &cli_user_delete,
    &cli_bench_produce, &cli_bench_consume,
    &cli_partition_reassign, &cli_partition_reassignments,
    NULL,
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: runnel COMMAND [ARGS] [--bootstrap HOST:PORT] [--json] [--help]\n"
            "\n"
            "A command-line client for runnel and any Kafka cluster (librdkafka %s).\n"
            "\n"
            "commands:\n",
            rd_kafka_version_str());
    for (int i = 0; commands[i]; i++) {
        char left[96];
        snprintf(left, sizeof left, "%s %s", commands[i]->path, commands[i]->synopsis);
        fprintf(f, "  %-46s %s\n", left, commands[i]->summary);
    }
    fprintf(f,
            "\n'runnel COMMAND --help' describes a command. The broker is --bootstrap, else\n"
            "RUNNEL_BOOTSTRAP, else " CLI_DEFAULT_BOOTSTRAP ".\n"
            "exit status: 0 success, 1 the operation failed, 2 bad usage\n");
}

/* How many leading words of argv the command's path takes, or 0 if it does not match. */
static int matches(const cli_command *c, int argc, char **argv) {
    char path[64];
    snprintf(path, sizeof path, "%s", c->path);
    int n = 0;
    for (char *save = NULL, *w = strtok_r(path, " ", &save); w; w = strtok_r(NULL, " ", &save), n++)
        if (n >= argc || strcmp(argv[n], w) != 0) return 0;
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("runnel %s (librdkafka %s)\n", RUNNEL_VERSION, rd_kafka_version_str());
        return CLI_OK;
    }
    for (int i = 0; commands[i]; i++) {
        int words = matches(commands[i], argc - 1, argv + 1);
        if (!words) continue;
        cli_args a;
        int rc = cli_parse(commands[i], argc - 1 - words, argv + 1 + words, &a);
        if (rc < 0) return CLI_OK; /* --help */
        if (rc != CLI_OK) return rc;
        return commands[i]->run(&a);
    }
    /* A known noun with a missing or unknown verb: list that noun's commands. */
    int noun = 0;
    for (int i = 0; commands[i]; i++) {
        size_t l = strcspn(commands[i]->path, " ");
        if (strlen(argv[1]) == l && !strncmp(commands[i]->path, argv[1], l)) noun = 1;
    }
    if (noun) {
        if (argc > 2)
            fprintf(stderr, "runnel: unknown command '%s %s'\n", argv[1], argv[2]);
        else
            fprintf(stderr, "runnel: '%s' needs a subcommand\n", argv[1]);
        fprintf(stderr, "%s commands:\n", argv[1]);
        for (int i = 0; commands[i]; i++)
            if (!strncmp(commands[i]->path, argv[1], strlen(argv[1])) && commands[i]->path[strlen(argv[1])] == ' ')
                fprintf(stderr, "  runnel %s%s%s\n", commands[i]->path, *commands[i]->synopsis ? " " : "",
                        commands[i]->synopsis);
        return CLI_USAGE;
    }
    fprintf(stderr, "runnel: unknown command '%s'\nTry 'runnel --help'.\n", argv[1]);
    return CLI_USAGE;
}

/*
 * main.c - dep11-tool's entry point: the common options before the noun,
 * command lookup in the table of commands.c, and the tool's help. The
 * options of a command are parsed by opts.c, failures reported by report.c.
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void print_summary(FILE *fp, const struct tool_cmd *c)
{
    char nv[48];

    snprintf(nv, sizeof nv, "%s %s", c->noun, c->verb);
    fprintf(fp, "  %-17s %s\n", nv, c->summary);
}

static void print_main_help(FILE *fp)
{
    size_t i = 0;

    fprintf(fp, "Usage: dep11-tool [COMMON OPTIONS] NOUN VERB [OPTIONS] "
                "[ARGS]\n\n"
                "The dep11 admin CLI: a PKCS#11 consumer of libdep11.so.\n\n"
                "Commands:\n");
    for (i = 0; i < tool_ncommands; i++)
        print_summary(fp, tool_commands[i]);
    fputc('\n', fp);
    tool_common_help(fp);
    fprintf(fp, "\nRun 'dep11-tool NOUN VERB --help' for a command.\n");
}

static const struct option main_longopts[] = {
    TOOL_COMMON_LONGOPTS, {"version", 0, NULL, 'V'}, {NULL, 0, NULL, 0},
};

/* Finds the command named by @noun @verb; lists a noun's verbs on a miss. */
static const struct tool_cmd *lookup(struct tool *t, const char *noun,
                                     const char *verb)
{
    size_t i = 0;
    int noun_known = 0;

    for (i = 0; i < tool_ncommands; i++) {
        if (strcmp(tool_commands[i]->noun, noun) != 0)
            continue;
        noun_known = 1;
        if (tool_commands[i]->verb[0] == '\0')
            return tool_commands[i]; /* a command without a verb (probe) */
        if (verb != NULL && strcmp(tool_commands[i]->verb, verb) == 0)
            return tool_commands[i];
    }
    if (!noun_known) {
        tool_error(t, TOOL_EXIT_USAGE, "unknown command \"%s\" (see --help)",
                   noun);
        return NULL;
    }
    if (verb == NULL || strcmp(verb, "--help") != 0)
        tool_error(t, TOOL_EXIT_USAGE, "%s: unknown or missing verb%s%s",
                   noun, verb ? " " : "", verb ? verb : "");
    fprintf(verb && !strcmp(verb, "--help") ? stdout : stderr,
            "Verbs of %s:\n", noun);
    for (i = 0; i < tool_ncommands; i++)
        if (strcmp(tool_commands[i]->noun, noun) == 0)
            print_summary(verb && !strcmp(verb, "--help") ? stdout : stderr,
                          tool_commands[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    struct tool t;
    const struct tool_cmd *cmd = NULL;
    char name[64];
    int c = 0, rc = TOOL_EXIT_USAGE;

    memset(&t, 0, sizeof t);
    t.session = CK_INVALID_HANDLE;
    opterr = 0;
    /* "+": stop at the noun; the command parses the rest. */
    while ((c = getopt_long(argc, argv, "+", main_longopts, NULL)) != -1) {
        if (c == 'V') {
            printf("dep11-tool %s\n", PACKAGE_VERSION);
            return TOOL_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return tool_error(&t, TOOL_EXIT_USAGE,
                              "unknown option or missing argument: %s "
                              "(see --help)", argv[optind - 1]);
        if (tool_common_opt(&t, c, optarg) < 0) {
            print_main_help(stdout);
            return TOOL_EXIT_OK;
        }
    }
    if (optind >= argc) {
        print_main_help(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        print_main_help(stdout);
        return TOOL_EXIT_OK;
    }
    cmd = lookup(&t, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL);
    if (cmd == NULL)
        return optind + 1 < argc && !strcmp(argv[optind + 1], "--help")
                   ? TOOL_EXIT_OK : TOOL_EXIT_USAGE;
    snprintf(name, sizeof name, "%s%s%s", cmd->noun, cmd->verb[0] ? " " : "", cmd->verb);
    t.cmd = name;
    if (cmd->verb[0] == '\0')
        optind--; /* a verb-less command gets the noun as its argv[0] */
    rc = cmd->run(&t, argc - optind - 1, argv + optind + 1);
    tool_close(&t);
    return rc;
}

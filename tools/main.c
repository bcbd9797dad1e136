/*
 * main.c - dep11-tool's entry point: common options, command lookup in the
 * table of commands.c, and help texts. How failures are reported (message,
 * JSON error object, exit code) is report.c.
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"


static const char common_help[] =
    "Common options (before or after the command):\n"
    "  --module PATH          PKCS#11 module (default: $DEP11_MODULE, else\n"
    "                         the installed libdep11.so)\n"
    "  --token-label LABEL    the token to use (default: the only token)\n"
    "  --token URI            the token as a PKCS#11 URI (pkcs11:token=...;\n"
    "                         object, module and slot attributes allowed; a\n"
    "                         pin-source=file:PATH in it gives the PIN)\n"
    "  --pin-source SRC       user PIN from file:PATH (first line) or env:VAR;\n"
    "                         a PIN is never accepted on the command line;\n"
    "                         without one, a terminal is prompted (no echo)\n"
    "  --json                 machine-readable output (one JSON object)\n"
    "  --help                 help for the tool or the command\n"
    "Exit codes: 0 ok; 1 operation failed (the CKR_ code and its meaning are\n"
    "printed); 2 usage error (options, PIN source, input files); 3 the module\n"
    "could not be loaded or initialized.\n";

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
    fprintf(fp, "\n%s\nRun 'dep11-tool NOUN VERB --help' for a command.\n",
            common_help);
}

static void print_cmd_help(const struct tool_cmd *c)
{
    printf("%s\n\n%s", c->help, common_help);
}

/*
 * Applies common option @c with argument @arg to @t. Returns 1 if @c was
 * one, -1 for --help, 0 otherwise.
 */
int tool_common_opt(struct tool *t, int c, const char *arg)
{
    switch (c) {
    case OPT_MODULE: t->opt.module = arg; return 1;
    case OPT_TOKEN_LABEL: t->opt.token_label = arg; return 1;
    case OPT_TOKEN_URI: t->opt.token_uri = arg; return 1;
    case OPT_PIN_SOURCE: t->opt.pin_source = arg; return 1;
    case OPT_JSON: t->opt.json = 1; return 1;
    case OPT_HELP: return -1;
    default: return 0;
    }
}

/* Checks the common options once all are parsed. */
static int check_common(struct tool *t)
{
    if (t->opt.token_label != NULL && t->opt.token_uri != NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "give --token-label or --token, not both");
    if (t->opt.token_uri != NULL && strncmp(t->opt.token_uri, "pkcs11:", 7))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--token takes a PKCS#11 URI (pkcs11:token=...); "
                          "use --token-label for a label");
    return tool_check_pin_source(t, t->opt.pin_source, "--pin-source");
}

/*
 * Parses the options of command @cmd (see tool.h). @argv[0] is the verb.
 */
int tool_parse(struct tool *t, const struct tool_cmd *cmd, int argc,
               char **argv, const struct option *longopts,
               int (*handle)(struct tool *, int, const char *, void *),
               void *ctx, int *optind_out)
{
    int c = 0, r = 0;

    optind = 0; /* 0, not 1: glibc re-initializes its ordering state */
    opterr = 0;
    /* Options and operands may mix after the verb (GNU permutation). */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return tool_error(t, TOOL_EXIT_USAGE,
                              "unknown option or missing argument: %s "
                              "(see --help)", argv[optind - 1]);
        r = tool_common_opt(t, c, optarg);
        if (r < 0) {
            print_cmd_help(cmd);
            return -1;
        }
        if (r == 0 && handle(t, c, optarg, ctx) != 0)
            return TOOL_EXIT_USAGE;
    }
    *optind_out = optind;
    return check_common(t);
}

/*
 * tool_parse for a command that takes no operands (see tool.h): an operand
 * left over is a usage error.
 */
int tool_parse_no_operands(struct tool *t, const struct tool_cmd *cmd,
                           int argc, char **argv,
                           const struct option *longopts,
                           int (*handle)(struct tool *, int, const char *,
                                         void *),
                           void *ctx)
{
    int rc = 0, first = 0;

    rc = tool_parse(t, cmd, argc, argv, longopts, handle, ctx, &first);
    if (rc != 0)
        return rc;
    if (first != argc)
        return tool_error(t, TOOL_EXIT_USAGE, "unexpected argument %s",
                          argv[first]);
    return 0;
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
    snprintf(name, sizeof name, "%s %s", cmd->noun, cmd->verb);
    t.cmd = name;
    rc = cmd->run(&t, argc - optind - 1, argv + optind + 1);
    tool_close(&t);
    return rc;
}

/*
 * opts.c - the options every dep11-tool command shares (--module, --token,
 * --pin-source, --json, --help), their help text, and the option parser the
 * commands call. The commands depend on this file, never on main.c.
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

/* Prints the help of the common options on @fp. */
void tool_common_help(FILE *fp)
{
    fputs(common_help, fp);
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

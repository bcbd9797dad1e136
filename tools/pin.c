/*
 * pin.c - where dep11-tool gets a PIN: --pin-source (file:PATH, its first
 * line, or env:VAR), else the pin-source of the --token URI (a file: URI or
 * an absolute path, refused when group or others may read it, like the
 * module's PIN file), else a prompt without echo when stdin is a terminal.
 * A PIN is never taken from the command line, and cleansed after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tool.h"

#define PIN_MAX 256

/* The first line of @fd (at most PIN_MAX - 1 bytes) into @pin; @what names
 * the source in messages. read(2), not stdio: no copy of the PIN is left in
 * a FILE buffer. */
static int pin_from_fd(struct tool *t, int fd, const char *what, char *pin,
                       size_t *len)
{
    ssize_t got = 0;
    char c = 0;

    *len = 0;
    while ((got = read(fd, &c, 1)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return tool_error(t, TOOL_EXIT_USAGE, "cannot read the PIN from %s: %s",
                              what, strerror(errno));
        if (c == '\n' || c == '\r')
            break;
        if (*len == PIN_MAX - 1)
            return tool_error(t, TOOL_EXIT_USAGE, "%s: PIN too long", what);
        pin[(*len)++] = c;
    }
    c = 0;
    return TOOL_EXIT_OK;
}

/* Reads the first line of @path; with @strict the file must be a regular
 * file that group and others cannot read (DESIGN section 7, as the module's
 * PIN file). */
static int pin_from_file(struct tool *t, const char *path, int strict,
                         char *pin, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = TOOL_EXIT_USAGE;

    if (fd < 0 || fstat(fd, &st) != 0)
        rc = tool_error(t, TOOL_EXIT_USAGE, "cannot read PIN file %s: %s",
                        path, strerror(errno));
    else if (strict && !S_ISREG(st.st_mode))
        rc = tool_error(t, TOOL_EXIT_USAGE, "PIN file %s is not a regular file",
                        path);
    else if (strict && (st.st_mode & 077) != 0)
        rc = tool_error(t, TOOL_EXIT_USAGE,
                        "PIN file %s: mode %04o lets group or others read it "
                        "(chmod 600)", path, (unsigned)(st.st_mode & 07777));
    else
        rc = pin_from_fd(t, fd, path, pin, len);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The URI's pin-source: "file:/PATH", "file:///PATH" or "/PATH" (RFC 7512
 * section 2.3). */
static int pin_from_uri_source(struct tool *t, const char *src, char *pin,
                               size_t *len)
{
    const char *path = src;

    if (strncmp(src, "file://", 7) == 0)
        path = src + 7;
    else if (strncmp(src, "file:", 5) == 0)
        path = src + 5;
    if (path[0] != '/')
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--token: pin-source %s is not a file: URI or an "
                          "absolute path", src);
    return pin_from_file(t, path, 1, pin, len);
}

/* Prompts on the terminal at stdin with echo off; the terminal's settings
 * are restored before return. */
static int pin_from_tty(struct tool *t, char *pin, size_t *len)
{
    struct termios old, quiet;
    int rc = TOOL_EXIT_USAGE;

    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "cannot set up the terminal: %s",
                          strerror(errno));
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ICANON;
    /* Echo off before the prompt (as getpass): TCSAFLUSH drops typed-ahead
     * input, which must not include an answer to the prompt. */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "cannot turn echo off: %s",
                          strerror(errno));
    fprintf(stderr, "PIN for the token: ");
    fflush(stderr);
    rc = pin_from_fd(t, STDIN_FILENO, "the terminal", pin, len);
    (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

/* Reads an explicit source: "file:PATH" or "env:VAR". */
static int pin_from_source(struct tool *t, const char *source, char *buf,
                           size_t *len)
{
    const char *v = NULL;

    if (strncmp(source, "file:", 5) == 0 && source[5] != '\0')
        return pin_from_file(t, source + 5, 0, buf, len);
    if (strncmp(source, "env:", 4) != 0 || source[4] == '\0')
        return tool_error(t, TOOL_EXIT_USAGE,
                          "PIN source must be file:PATH or env:VAR "
                          "(never the PIN itself)");
    if ((v = getenv(source + 4)) == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "PIN variable %s is not set",
                          source + 4);
    if ((*len = strlen(v)) >= PIN_MAX)
        return tool_error(t, TOOL_EXIT_USAGE, "PIN variable too long");
    memcpy(buf, v, *len);
    return TOOL_EXIT_OK;
}

/*
 * Reads a PIN from @source ("file:PATH" or "env:VAR"); when @source is NULL
 * from the --token URI's pin-source, else from the terminal if stdin is one.
 * *@pin is a malloc'd NUL-terminated buffer; free it with tool_free_pin.
 * Returns TOOL_EXIT_OK, or TOOL_EXIT_USAGE after printing why.
 */
int tool_read_pin(struct tool *t, const char *source, char **pin, size_t *len)
{
    char *buf = NULL;
    int rc = TOOL_EXIT_USAGE;

    *pin = NULL;
    *len = 0;
    if (source == NULL && t->uri_pin_source == NULL && !isatty(STDIN_FILENO))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "this command needs --pin-source file:PATH|env:VAR "
                          "(or a terminal to prompt on)");
    buf = calloc(1, PIN_MAX + 1);
    if (buf == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    if (source != NULL)
        rc = pin_from_source(t, source, buf, len);
    else if (t->uri_pin_source != NULL)
        rc = pin_from_uri_source(t, source = t->uri_pin_source, buf, len);
    else
        rc = pin_from_tty(t, buf, len);
    if (rc == TOOL_EXIT_OK && *len == 0)
        rc = tool_error(t, TOOL_EXIT_USAGE, "the PIN from %s is empty",
                        source ? source : "the terminal");
    if (rc != TOOL_EXIT_OK) {
        tool_free_pin(buf, PIN_MAX + 1);
        *len = 0;
        return rc;
    }
    buf[*len] = '\0';
    *pin = buf;
    return TOOL_EXIT_OK;
}

/* Is @source of the form file:PATH or env:VAR? If not, prints why (naming
 * option @opt) and returns TOOL_EXIT_USAGE; else TOOL_EXIT_OK. */
int tool_check_pin_source(struct tool *t, const char *source, const char *opt)
{
    if (source == NULL || (strncmp(source, "file:", 5) == 0 && source[5]) ||
        (strncmp(source, "env:", 4) == 0 && source[4]))
        return TOOL_EXIT_OK;
    return tool_error(t, TOOL_EXIT_USAGE,
                      "%s must be file:PATH or env:VAR (never the PIN itself)",
                      opt);
}

/* Cleanses and frees a PIN from tool_read_pin (@len is ignored: the whole
 * buffer is cleansed). NULL is a no-op. */
void tool_free_pin(char *pin, size_t len)
{
    (void)len;
    if (pin == NULL)
        return;
    OPENSSL_cleanse(pin, PIN_MAX + 1);
    free(pin);
}

/*
 * file.h - small whole-file helpers: read a bounded file, create a file
 * that must not exist yet (never replacing one). No logging: the caller
 * names the file and its purpose.
 */
#ifndef DEP11_UTIL_FILE_H
#define DEP11_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Reads at most @cap bytes of @path into @buf, NUL-terminated (@buf holds
 * @cap + 1 bytes); *@len gets the count. Returns 0, -1 absent (ENOENT), -2
 * another error (errno says which). */
int dep11_file_read(const char *path, char *buf, size_t cap, size_t *len);

/* Reads the rest of @f into a growing malloc'ed buffer *@buf of at most
 * @max + 1 bytes (one more than @max tells the caller the input is too
 * long), with room for a NUL after *@n bytes (not written). Returns 0, or
 * -1 out of memory (*@buf freed). A read error is ferror(@f)'s to tell. */
int dep11_file_read_stream(FILE *f, size_t max, char **buf, size_t *n);

/* Creates @path (mode 0644) holding the @n bytes at @data, durably: a
 * temporary file beside it is written, synced and linked to @path, so a
 * reader sees the whole file or none. Returns 0 written, 1 @path exists
 * already (nothing written), -1 another error (errno says which). */
int dep11_file_create(const char *path, const void *data, size_t n);

#endif

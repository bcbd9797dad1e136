/*
 * handle.h - the module's own handle space. Module-side objects get handles
 * from [DEP11_HANDLE_BASE, DEP11_HANDLE_BASE + DEP11_HANDLE_SPAN); a backend
 * object handle that falls into that range is given an alias from the same
 * range and translated on the way in and out (core/object.c).
 */
#ifndef DEP11_CORE_HANDLE_H
#define DEP11_CORE_HANDLE_H

#include <p11-kit/pkcs11.h>

#define DEP11_HANDLE_BASE                                                    \
    ((CK_ULONG)(sizeof(CK_ULONG) > 4 ? 0x0DE1100000000000ULL : 0xDE110000UL))
#define DEP11_HANDLE_SPAN ((CK_ULONG)0x00FFFFFFUL)

static inline int dep11_handle_in_range(CK_ULONG h)
{
    return h >= DEP11_HANDLE_BASE && h - DEP11_HANDLE_BASE < DEP11_HANDLE_SPAN;
}

#endif

/*
 * fake_core_deps.h - the fixed names of fake_core_deps.c's doubles.
 */
#ifndef DEP11_TESTS_FAKE_CORE_DEPS_H
#define DEP11_TESTS_FAKE_CORE_DEPS_H

#define FAKE_PROVIDER_SLOT 99UL
#define FAKE_PROVIDER_OBJECT 0x666UL
#define FAKE_ROOT 0x77UL    /* a registered root's private key */
#define FAKE_RSA_KEY 0x78UL /* an RSA private key that is not a root */

#include <p11-kit/pkcs11.h>

/* What the fake C_GetSessionInfo reports as the state (default: a user). */
extern CK_STATE fake_session_state;

#endif

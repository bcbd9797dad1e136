/*
 * backend.h - the HSM's PKCS#11 module below dep11: loaded through p11-kit
 * (P11_KIT_MODULE_UNMANAGED) and initialized by dep11 itself with
 * CKF_OS_LOCKING_OK and no pReserved (DESIGN section 8).
 */
#ifndef DEP11_HSM_BACKEND_H
#define DEP11_HSM_BACKEND_H

#include <p11-kit/pkcs11.h>
#include "util/config.h"

/* Loads @profile->module and calls its C_Initialize with CKF_OS_LOCKING_OK.
 * CKR_OK; CKR_FUNCTION_FAILED (cannot load: logged with the path);
 * or the backend's own C_Initialize result. */
CK_RV dep11_hsm_load(const struct dep11_profile *profile);

/* The application's CKF_LIBRARY_CANT_CREATE_OS_THREADS (1/0), passed on to
 * the backend at the next load, beside CKF_OS_LOCKING_OK. */
void dep11_hsm_set_no_threads(int no_threads);

/* C_Finalize on the backend and release it. Safe when not loaded. */
void dep11_hsm_unload(void);

/* In a forked child: forget the parent's backend state without finalizing
 * it (its sessions belong to the parent), then load again. */
CK_RV dep11_hsm_reload_after_fork(const struct dep11_profile *profile);
/* Finalizes and initializes the loaded backend again (profile "reconnect";
 * backend.c). CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED, or the backend's code. */
CK_RV dep11_hsm_reconnect(void);

/* The backend's function list; NULL when not loaded. Calls go through the
 * wrappers of hsm/call.h; module code outside module/hsm uses this only to
 * ask whether a backend is loaded. */
CK_FUNCTION_LIST *dep11_hsm(void);

/* The profile the backend was loaded with (owned by backend.c); NULL when
 * not loaded. retry.c reads retries/backoff-ms from it. */
const struct dep11_profile *dep11_hsm_profile(void);

/* Did the application initialize the backend itself (CKR_CRYPTOKI_ALREADY_
 * INITIALIZED at load)? Then dep11 never finalizes it. 1/0. */
int dep11_hsm_is_shared(void);

#endif

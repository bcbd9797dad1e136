/*
 * api.h - what entry.c and interface.c share: the traced dispatch helper,
 * the export attribute, and the function lists that both files name.
 */
#ifndef DEP11_API_H
#define DEP11_API_H

#include "dep11.h"
#include "util/log.h"

/* The four symbols the module exports (module/dep11.map); everything else
 * is hidden by -fvisibility=hidden. */
#define DEP11_EXPORT __attribute__((visibility("default")))

/* The "PKCS 11" 2.40 list and the "Vendor dep11" 1.0 list (entry.c). */
extern CK_FUNCTION_LIST dep11_api_list_2_40;
extern CK_DEP11_FUNCTION_LIST dep11_api_list_vendor;

/*
 * Is the debug level on? The log reads DEP11_DEBUG once per process, so the
 * answer is asked once and kept (-1: not asked yet): a call then costs one
 * load, not two log calls and a dep11_rv_name() (about a quarter of dep11's
 * own instructions on a pass-through C_EncryptInit + C_Encrypt).
 */
static inline int dep11_api_tracing(void)
{
    static int trace_state = -1;
    int t = __atomic_load_n(&trace_state, __ATOMIC_RELAXED);

    if (__builtin_expect(t < 0, 0)) {
        t = dep11_log_enabled(DEP11_LOG_DEBUG);
        __atomic_store_n(&trace_state, t, __ATOMIC_RELAXED);
    }
    return t;
}

/*
 * DISPATCH(call): the one dispatch helper STYLE allows to return. Traces
 * "in", evaluates @call (a dep11_core_* function), traces "out: CKR_NAME"
 * at debug level and returns the result. The trace names the C_* function.
 */
#define DISPATCH(call)                                                                         \
    do {                                                                                       \
        CK_RV dispatch_rv_ = CKR_GENERAL_ERROR;                                                \
        int dispatch_trace_ = dep11_api_tracing();                                             \
                                                                                               \
        if (dispatch_trace_)                                                                   \
            LOG_DEBUG("in");                                                                   \
        dispatch_rv_ = (call);                                                                 \
        if (dispatch_trace_)                                                                   \
            LOG_DEBUG("out: %s", dep11_rv_name(dispatch_rv_));                                 \
        return dispatch_rv_;                                                                   \
    } while (0)

#endif

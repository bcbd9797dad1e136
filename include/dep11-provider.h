/*
 * dep11-provider.h - the labels of the provider keys on dep11's provider
 * token (DESIGN section 2, "Provisioning"). Not part of the public ABI and
 * not installed: `dep11-tool provider init` creates the keys with these
 * labels (tools/provider.c holds the templates), and the module only finds
 * them by these labels (module/hsm/provider_keys.c). Nothing else here.
 *
 *   label                        objects (each exactly once on the token)
 *   DEP11_PROVIDER_LABEL_ROOT1   RSA private key + RSA public key
 *   DEP11_PROVIDER_LABEL_ROOT2   RSA private key + RSA public key
 *   DEP11_PROVIDER_LABEL_MAC     generic secret key (HMAC-SHA256, 32 bytes)
 *   DEP11_PROVIDER_LABEL_SIGN    EC (P-256) private key + EC public key
 */
#ifndef DEP11_PROVIDER_LABELS_H
#define DEP11_PROVIDER_LABELS_H

#define DEP11_PROVIDER_LABEL_ROOT1 "dep11-provider-root-1"
#define DEP11_PROVIDER_LABEL_ROOT2 "dep11-provider-root-2"
#define DEP11_PROVIDER_LABEL_MAC "dep11-provider-mac"
#define DEP11_PROVIDER_LABEL_SIGN "dep11-provider-receipt-sign"

/* The command an operator runs on an empty provider token. */
#define DEP11_PROVIDER_INIT_COMMAND "dep11-tool provider init"

#endif

#!/usr/bin/env bash
# test_p11kit_proxy.sh: the installed packaging through p11-kit (issue 14
# item 2). `make install` into a DESTDIR under the build tree; the installed
# dep11.module (its module path moved under the DESTDIR) and the backend
# override softhsm2.module go into an unprivileged user's
# ~/.config/pkcs11/modules (p11-kit reads no user config as root: the test
# runs the consumers as nobody then). Through p11-kit-proxy and p11-kit
# itself the provider token is nowhere; without a dep11 config dep11 is
# absent and silent; without the override the raw SoftHSM shows it (the
# control). Also checks dep11.pc, the sample config, the man pages and the
# verifiers as installed.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }
command -v p11-kit >/dev/null || { echo "SKIP: no p11-kit command"; exit 77; }
proxy=$(pkg-config --variable=proxy_module p11-kit-1)
[ -f "$proxy" ] || { echo "SKIP: no p11-kit-proxy.so"; exit 77; }
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module (the installed one is what counts)"; exit 77; }

consumer_world p11kit
W=$ITEST_WORLD
dest="$W/destdir"
MAKEFLAGS='' "${MAKE:-make}" -C "$abs_top_builddir" install DESTDIR="$dest" >"$W/install.log" 2>&1 || {
    tail -20 "$W/install.log"; echo "FAIL: make install DESTDIR=$dest"; exit 1; }
installed() { find "$dest" -name "$1" -print -quit; }
mod_conf=$(installed dep11.module)
override=$(installed softhsm2.module)
module=$(installed libdep11.so)
# The configured directories: p11-kit's own unless configure was told
# otherwise (distcheck installs under its prefix).
moddir=${DEP11_P11MODULEDIR:-$(pkg-config --variable=p11_module_path p11-kit-1)}
confdir=${DEP11_P11MODULECONFDIR:-$(pkg-config --variable=p11_module_configs p11-kit-1)}
echo "# module dir $moddir (p11-kit's: $(pkg-config --variable=p11_module_path p11-kit-1))"
check "installed: libdep11.so in the module dir" test "$module" = "$dest$moddir/libdep11.so"
check "installed: dep11.module in the p11-kit config dir" test "$mod_conf" = "$dest$confdir/dep11.module"
check "installed: no libtool archive in the module path" test ! -e "${module%.so}.la"
check "installed: the softhsm2.module override" test -n "$override"
check "dep11.module names the installed module" grep -qx "module: ${module#"$dest"}" "$mod_conf"

# The user's p11-kit config: the packaged files, the module moved into DESTDIR.
home="$W/home" bare="$W/home-bare"
mkdir -p "$home/.config/pkcs11/modules" "$bare/.config/pkcs11/modules"
sed "s|^module: .*|module: $module|" "$mod_conf" >"$home/.config/pkcs11/modules/dep11.module"
cp "$override" "$home/.config/pkcs11/modules/softhsm2.module"
cp "$home/.config/pkcs11/modules/dep11.module" "$bare/.config/pkcs11/modules/"

as_user=()
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || { echo "SKIP: root without setpriv"; exit 77; }
    chown -R 65534:65534 "$W"
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if ! "${as_user[@]}" test -r "$module" -a -w "$W/tokens"; then
        echo "SKIP: nobody cannot reach $W (a parent directory is closed)"; exit 77
    fi
fi
# run HOME CONF OUT CMD...: a consumer as the unprivileged user.
run() {
    local h=$1 conf=$2 out=$3
    shift 3
    "${as_user[@]}" env -u DEP11_CONF HOME="$h" SOFTHSM2_CONF="$SOFTHSM2_CONF" \
        DEP11_DEBUG=1 ${conf:+DEP11_CONF="$conf"} "$@" >"$out" 2>"$out.err" || true
    cat "$out" "$out.err"
}
O=$CONSUMER_OUT
lacks() { ! grep -q -- "$2" "$1"; }
has() { grep -q -- "$2" "$1"; }

echo "== no dep11 config in the process"
run "$home" "" "$O/noconf-L" pkcs11-tool --module "$proxy" -L
check "no config: proxy shows no provider token" lacks "$O/noconf-L" "dep11-provider"
check "no config: proxy shows no SoftHSM token at all" lacks "$O/noconf-L" "contoso"
check "no config: dep11 prints nothing" lacks "$O/noconf-L.err" "dep11"
check "no config: nothing on stderr but pkcs11-tool's own 'No slots.'" \
    test -z "$(grep -v '^No slots\.$' "$O/noconf-L.err")"
run "$home" "" "$O/noconf-list" p11-kit list-modules
check "no config: p11-kit list-modules shows no provider token" lacks "$O/noconf-list" "dep11-provider"
check "no config: p11-kit list-modules silent" lacks "$O/noconf-list.err" "ERROR"
check "override: p11-kit has no softhsm2 module" lacks "$O/noconf-list" "softhsm2"

echo "== with the dep11 config"
run "$home" "$DEP11_CONF" "$O/conf-L" pkcs11-tool --module "$proxy" -L
check "config: proxy shows contoso (through dep11)" has "$O/conf-L" "token label *: contoso"
check "config: proxy shows fabrikam" has "$O/conf-L" "token label *: fabrikam"
check "config: proxy shows no provider token" lacks "$O/conf-L" "dep11-provider"
check "config: one contoso only (no raw SoftHSM beside dep11)" \
    test "$(grep -c 'token label *: contoso' "$O/conf-L")" -eq 1
run "$home" "$DEP11_CONF" "$O/conf-list" p11-kit list-modules
check "config: p11-kit lists dep11" has "$O/conf-list" "^dep11:"
check "config: p11-kit list-modules shows no provider token" lacks "$O/conf-list" "dep11-provider"
run "$home" "$DEP11_CONF" "$O/conf-login" pkcs11-tool --module "$proxy" \
    --token-label dep11-provider --login --pin "$(cat "$W/provider.pin")" -O
check "config: no session on the provider token through the proxy" \
    has "$O/conf-login.err" 'No slot with token named "dep11-provider"'
run "$home" "$DEP11_CONF" "$O/conf-O" pkcs11-tool --module "$proxy" \
    --token-label contoso --login --pin 1234 -O
check "config: contoso's objects through the proxy" has "$O/conf-O" "label: *signer"

snippet p11-kit "$W/p11-kit-snippet"
chmod 644 "$W/p11-kit-snippet"
run "$home" "$DEP11_CONF" "$O/snippet" bash -eu "$W/p11-kit-snippet"
check "README p11-kit snippet: dep11's contoso, once" \
    test "$(grep -c 'token label *: contoso' "$O/snippet")" -eq 1
check "README p11-kit snippet: no provider token" lacks "$O/snippet" "dep11-provider"

if [ -f "$(pkg-config --variable=p11_module_configs p11-kit-1)/softhsm2.module" ]; then
    echo "== control: without the override, the package's softhsm2.module"
    run "$bare" "$DEP11_CONF" "$O/bare-L" pkcs11-tool --module "$proxy" -L
    check "control: the raw SoftHSM shows the provider token" has "$O/bare-L" "dep11-provider"
fi

echo "== dep11.pc, sample config, man pages, verifiers"
pcdir=$(dirname "$(installed dep11.pc)")
pc() { PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR='' pkg-config "$@"; }
check "dep11.pc: Cflags carry p11-kit's" \
    grep -q -- "$(pkg-config --cflags p11-kit-1 | awk '{print $1}')" <(pc --cflags dep11)
check "dep11.pc: module variable" test "$(pc --variable=module dep11)" = "${module#"$dest"}"
hdr="$dest$(pc --variable=includedir dep11)"
printf '#include <dep11.h>\nint main(void) { return CKM_DEP11_AEAD == 0; }\n' >"$W/pc.c"
# shellcheck disable=SC2046
check "dep11.pc: dep11.h compiles with its Cflags" \
    ${CC:-cc} -I"$hdr" $(pc --cflags dep11) -o "$W/pc" "$W/pc.c"
sample=$(installed dep11.conf.sample)
check "sample config installed under sysconfdir/dep11" test -n "$sample"
# Every key of the sample, commented or not, is one dep11 accepts.
sed -E -e 's/^#([a-z-]+ *=)/\1/' \
    -e "s|^profile *=.*|profile = $abs_top_srcdir/hsm-profiles/softhsm2.conf|" \
    -e "s|^provider-pin *=.*|provider-pin = file:$W/provider.pin|" \
    -e "s|^audit-log *=.*|audit-log = $W/sample-audit.jsonl|" \
    -e "s|^receipt-public-key *=.*|receipt-public-key = $W/sample-receipts.pem|" \
    "$sample" >"$W/sample.conf"
run "$home" "$W/sample.conf" "$O/sample-L" pkcs11-tool --module "$module" -L
check "sample config (all keys on) loads" has "$O/sample-L" "token label *: contoso"
for page in dep11.conf.5 dep11.7 dep11-tool.1; do
    f=$(installed "$page")
    check "man page $page installed" test -n "$f"
    if [ -n "$f" ] && command -v man >/dev/null; then
        MANWIDTH=200 man -l "$f" 2>/dev/null | col -b >"$O/$page.txt" || true
        [ "$page" = dep11-tool.1 ] ||
            check "man page $page has FILES" has "$O/$page.txt" "^FILES"
    fi
done
for v in dep11-audit-verify dep11-receipt-verify; do
    f=$(installed "$v")
    check "$v installed and executable" test -x "$f"
done
consumer_finish

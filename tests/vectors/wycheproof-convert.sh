# wycheproof-convert.sh: sourced by the Wycheproof test wrappers. Converts
# tests/vectors/wycheproof/*.json with wycheproof2txt.py into
# $WYCHEPROOF_DIR (under the build tree); exits 77 (skip) without Python.
: "${abs_top_srcdir:?run through make check}"
: "${abs_top_builddir:?run through make check}"
py=${PYTHON:-/usr/bin/python3}
if [ "$py" = ":" ] || ! command -v "$py" >/dev/null 2>&1; then
    echo "SKIP: no Python to convert the Wycheproof JSON files"
    exit 77
fi
export WYCHEPROOF_DIR="$abs_top_builddir/tests/vectors/wycheproof-txt/$1"
mkdir -p "$WYCHEPROOF_DIR"
for json in "$abs_top_srcdir"/tests/vectors/wycheproof/*.json; do
    "$py" "$abs_top_srcdir/tests/vectors/wycheproof2txt.py" "$json" \
        "$WYCHEPROOF_DIR/$(basename "$json" .json).txt"
done

# Sourced by scripts/test, scripts/sanitize, scripts/test-release and
# scripts/build-release: a private TMPDIR for the run.
# SwiftPM leaves TemporaryDirectory.* directories and lock files in TMPDIR on
# every `swift build` and `swift test` (swiftc on every module it compiles),
# and the tests make their directories there
# (Tests/TestSupport/TemporaryFiles.swift: monitord-LABEL.XXXXXX, each
# removed by its test or at the test process's exit). Everything the run makes
# goes into one directory under the caller's TMPDIR (or /tmp), removed when the
# script exits, so the caller's TMPDIR is left as it was found.
#   private_tmpdir_begin NAME     # NAME: the script, for messages
#   private_tmpdir_check          # fails, naming and removing them, if tests left monitord-* there
private_tmpdir_begin() {
    private_tmpdir_owner=$1
    private_tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/monitord-run.XXXXXX")
    export TMPDIR=$private_tmpdir
    trap 'rm -rf "$private_tmpdir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# What the tests made and did not remove: the suite's own names only (SwiftPM's
# TemporaryDirectory.* and lock files are not the tests' and go with the rest).
private_tmpdir_check() {
    local left
    left=$(find "$private_tmpdir" -mindepth 1 -maxdepth 1 -name 'monitord-*' ! -name 'monitord-run.*' -printf '%f ' 2>/dev/null || true)
    if [ -n "$left" ]; then
        echo "$private_tmpdir_owner: the tests left these in TMPDIR: $left" >&2
        (cd "$private_tmpdir" && rm -rf -- $left)   # judged once: a later check starts clean
        return 1
    fi
}

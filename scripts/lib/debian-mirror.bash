# Sourced by scripts/vm-test and scripts/qemu-user. The project names no
# package mirror: the one used for a Debian suite the machine does not run
# (bullseye armhf for the armv7 guest, trixie's qemu-user) is the machine's
# own, read from its apt configuration:
#   /etc/apt/sources.list, /etc/apt/sources.list.d/*.list   one-line entries
#   /etc/apt/sources.list.d/*.sources                         deb822 stanzas
# The first `deb` URI whose path ends in /debian (Debian's archive, not
# debian-security) is the mirror; a `mirror+file:` URI stands for the first
# URI in the file it names. Disabled stanzas (`Enabled: no`) and deb-src
# entries do not count.
#   mirror=$(debian_mirror) || exit 1
# prints the URI (no trailing slash), or else one line on stderr naming the
# files it read and returns 1. (An argument names another /etc/apt, for tests.)
debian_mirror() {
    local etc=${1:-/etc/apt} files=() file uri
    [[ -f $etc/sources.list ]] && files+=("$etc/sources.list")
    for file in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
        [[ -f $file ]] && files+=("$file")
    done
    if ((${#files[@]})); then
        while read -r uri; do
            if [[ $uri == mirror+file:* ]]; then
                file=${uri#mirror+file:}
                file=/${file#"${file%%[!/]*}"}
                uri=$(sed -n 's/#.*//; s/^[[:space:]]*\([^[:space:]]\{1,\}\).*/\1/p' "$file" 2>/dev/null | head -n 1)
            fi
            uri=${uri%/}
            if [[ $uri =~ ^https?://[^[:space:]]+/debian$ ]]; then
                echo "$uri"
                return 0
            fi
        done < <(debian_mirror_uris "${files[@]}")
    fi
    local read="none of $etc/sources.list, $etc/sources.list.d/*.list, $etc/sources.list.d/*.sources exists"
    ((${#files[@]})) && read="read ${files[*]}"
    echo "$(basename "$0"): no Debian mirror (a 'deb' URI ending in /debian) in the apt configuration: $read" >&2
    return 1
}

# Every `deb` URI of the given files, in order: one-line entries
# (`deb [options] URI SUITE COMPONENTS`) and deb822 stanzas (Types, URIs,
# Enabled; a stanza ends at a blank line).
debian_mirror_uris() {
    local file
    for file in "$@"; do
        if [[ $file == *.sources ]]; then
            awk '
                function flush() {
                    if (deb && enabled) for (i = 1; i <= n; i++) print uris[i]
                    deb = 0; enabled = 1; n = 0
                }
                BEGIN { enabled = 1 }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
                tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[++n] = $i }
                tolower($1) == "enabled:" { enabled = tolower($2) != "no" }
                END { flush() }
            ' "$file"
        else
            awk '
                { sub(/#.*/, "") }
                $1 == "deb" {
                    i = 2
                    if ($i ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++
                    if ($i ~ /^\[/ || $i ~ /\]$/) i++
                    if (i <= NF) print $i
                }
            ' "$file"
        fi
    done
}

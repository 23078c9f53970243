#!/usr/bin/env bash
# Builds libvtremote (the C ABI of crates/vtremote-client) and a patched FFmpeg with the
# *_videotoolbox_remote codecs.
#
#   ffmpeg/build.sh                          libvtremote + FFmpeg (default version, minimal
#                                            configure) -> build/bin/{ffmpeg,ffprobe}
#   ffmpeg/build.sh --full                   same, full configure (everything the machine
#                                            has, autodetected) for real use
#   ffmpeg/build.sh --version 9.0 --compile-only
#                                            build the other supported release in its own
#                                            work tree without touching build/bin
#   ffmpeg/build.sh --capi-only              only libvtremote -> build/{lib,include}
#   ffmpeg/build.sh --install-capi PREFIX    install libvtremote, vtremote.h, vtremote.pc
#                                            into $DESTDIR$PREFIX (after a build)
#   ffmpeg/build.sh --fetch-only [--version V]
#
# Options: --version V (7.1, 9.0 or an exact version from ffmpeg/versions), --minimal
# (default) | --full, --compile-only, --jobs N, --out DIR (default build/),
# --configure-flag FLAG (repeatable, appended to FFmpeg's configure), --clean.
#
# FFmpeg sources: ffmpeg/src/ffmpeg-VERSION.tar.xz is used if present and its SHA-256 matches
# ffmpeg/versions. Otherwise the upstream release tarball is downloaded; if ffmpeg.org is
# unreachable, the identical orig tarball is fetched from Debian's source archive, using
# the mirror and keyring this machine's apt is configured with (apt checks the signed
# index, we check the pinned SHA-256). Debian's own patches are never applied. Everything
# below ffmpeg/src and ffmpeg/work is a cache (git-ignored); repeated builds are offline
# and incremental.
set -euo pipefail
# Runs on Linux and on macOS (/bin/bash 3.2, BSD userland): no bash-4 constructs, tools picked
# by feature test (scripts/lint-macos-shell checks this).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
VERSIONS_FILE=$HERE/versions
SRC_CACHE=$HERE/src
WORK=$HERE/work

version=""
flavor=minimal
compile_only=0
action=build
jobs=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
out=$ROOT/build
install_prefix=""
extra_flags=()

die() { echo "ffmpeg/build.sh: error: $*" >&2; exit 1; }
note() { echo "ffmpeg/build.sh: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --version) version=${2:?}; shift ;;
        --version=*) version=${1#*=} ;;
        --minimal) flavor=minimal ;;
        --full) flavor=full ;;
        --compile-only) compile_only=1 ;;
        --jobs|-j) jobs=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        --configure-flag) extra_flags+=("${2:?}"); shift ;;
        --fetch-only) action=fetch ;;
        --capi-only) action=capi ;;
        --install-capi) action=install-capi; install_prefix=${2:?}; shift ;;
        --clean) action=clean ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---------------------------------------------------------------------------------------
# Version selection

read_versions() { grep -v '^[[:space:]]*#' "$VERSIONS_FILE" | awk 'NF >= 2'; }

resolve_version() {
    local want=$1 line
    if [ -z "$want" ]; then
        line=$(read_versions | head -n1)
    else
        line=$(read_versions | awk -v v="$want" '$1 == v || index($1, v ".") == 1' | head -n1)
    fi
    [ -n "$line" ] || die "FFmpeg $want is not in $VERSIONS_FILE (supported: $(read_versions | awk '{print $1}' | tr '\n' ' '))"
    # shellcheck disable=SC2086
    set -- $line
    FF_VERSION=$1 FF_SHA256=$2 FF_DEBVER=${3:-} FF_SUITE=${4:-}
}

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | awk '{print $1}'
    else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# ---------------------------------------------------------------------------------------
# Fetching the pinned source

tarball_ok() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$FF_SHA256" ]; }

fetch_upstream() {
    local dest=$1 url=https://ffmpeg.org/releases/ffmpeg-$FF_VERSION.tar.xz
    note "fetching $url"
    if command -v curl >/dev/null; then
        curl -fsSL --connect-timeout 15 --max-time 600 -o "$dest.part" "$url" || return 1
    elif command -v wget >/dev/null; then
        wget -q -T 15 -O "$dest.part" "$url" || return 1
    else
        return 1
    fi
    mv "$dest.part" "$dest"
}

# Prints "URI<TAB>keyring" for each Debian archive this machine's apt uses.
apt_debian_mirrors() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v RS= '{
            uris = ""; suites = ""; key = ""
            n = split($0, lines, "\n")
            for (i = 1; i <= n; i++) {
                l = lines[i]
                if (l ~ /^URIs:/)      { sub(/^URIs:[ \t]*/, "", l); uris = l }
                if (l ~ /^Suites:/)    { sub(/^Suites:[ \t]*/, "", l); suites = l }
                if (l ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", l); key = l }
            }
            if (suites ~ /-security/) next
            m = split(uris, u, /[ \t]+/)
            for (j = 1; j <= m; j++) if (u[j] ~ /debian\/?$/) print u[j] "\t" key
        }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
            key = ""; i = 2
            if ($2 ~ /^\[/) {
                for (; i <= NF; i++) {
                    if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key); sub(/\]$/, "", key) }
                    if ($i ~ /\]$/) { i++; break }
                }
            }
            if ($(i + 1) ~ /-security/) next
            if ($i ~ /debian\/?$/) print $i "\t" key
        }' "$f"
    done
}

# Prints apt's captured output (file $1) after the sentence $2.
show_apt_log() {
    note "$2; apt's output ($1):"
    sed 's/^/    /' "$1" >&2
}

# Fetches the one file needed, ffmpeg_VERSION.orig.tar.xz, from Debian's source archive. Its
# URI and SHA-256 come from the suite's signed Sources index (apt-get update checks the
# signature; `apt-get source --print-uris` downloads nothing) and apt's own downloader
# fetches that single file, checking it against the index; the pinned SHA-256 is checked
# after. The .dsc and Debian's packaging tarball are never requested: once a revision is
# superseded they vanish from the pool while the orig tarball stays, and apt-get source
# would print "E: Failed to fetch ... 404 Not Found" for them. apt's chatter goes to
# $SRC_CACHE/apt/apt.log and is shown only when this step fails.
fetch_debian() {
    local dest=$1 dir=$SRC_CACHE/apt mirrors uri key n=0 log spec line hash
    local orig=ffmpeg_$FF_VERSION.orig.tar.xz
    [ -n "$FF_SUITE" ] || return 1
    command -v apt-get >/dev/null || return 1
    mirrors=$(apt_debian_mirrors | awk '!seen[$1]++')
    [ -n "$mirrors" ] || mirrors=$'http://deb.debian.org/debian\t'
    rm -rf "$dir/sources" "$dir/dl"
    mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/dl"
    while IFS=$'\t' read -r uri key; do
        [ -n "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.gpg
        n=$((n + 1))
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
            "$uri" "$FF_SUITE" "$key" >"$dir/sources/vtremote-$n.sources"
    done <<<"$mirrors"
    local apt=(apt-get -q -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$dir/sources"
               -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
    log=$dir/apt.log
    : >"$log"
    note "fetching $orig (ffmpeg=$FF_DEBVER) from Debian $FF_SUITE ($(cut -f1 <<<"$mirrors" | paste -sd' ' -))"
    "${apt[@]}" update >>"$log" 2>&1 ||
        { show_apt_log "$log" "apt-get update for Debian $FF_SUITE failed"; return 1; }
    # The pinned Debian revision first, then whatever the suite has now (it may share the
    # same upstream release); the pinned checksum decides either way.
    line=""
    for spec in "ffmpeg=$FF_DEBVER" "ffmpeg/$FF_SUITE"; do
        line=$(cd "$dir/dl" && "${apt[@]}" source --print-uris "$spec" 2>&1 | tee -a "$log" |
                   awk -v f="$orig" '$2 == f && !found { print; found = 1 }') || true
        if [ -n "$line" ]; then break; fi
        if [ "$spec" = "ffmpeg=$FF_DEBVER" ]; then
            note "Debian $FF_SUITE: no $orig in $spec; trying the suite's current ffmpeg"
        fi
    done
    [ -n "$line" ] || { show_apt_log "$log" "Debian $FF_SUITE lists no $orig"; return 1; }
    # Format: 'URI' FILENAME SIZE SHA256:HEX
    uri=$(awk '{ gsub(/\047/, "", $1); print $1 }' <<<"$line")
    hash=$(awk '{ print $4 }' <<<"$line")
    note "downloading $uri"
    local ok=0
    if [ -x /usr/lib/apt/apt-helper ]; then
        # apt's downloader: same proxies and settings as apt, checks the index's hash.
        /usr/lib/apt/apt-helper -q download-file "$uri" "$dir/dl/$orig" "$hash" >>"$log" 2>&1 && ok=1
    elif command -v curl >/dev/null; then
        curl -fsSL --connect-timeout 15 --max-time 600 -o "$dir/dl/$orig" "$uri" 2>>"$log" && ok=1
    elif command -v wget >/dev/null; then
        wget -q -T 15 -O "$dir/dl/$orig" "$uri" 2>>"$log" && ok=1
    fi
    if [ $ok = 1 ]; then mv "$dir/dl/$orig" "$dest"; fi
    rm -f "$dir"/dl/ffmpeg_*
    [ $ok = 1 ] || { show_apt_log "$log" "download of $uri failed"; return 1; }
}

fetch_source() {
    local tarball=$SRC_CACHE/ffmpeg-$FF_VERSION.tar.xz
    mkdir -p "$SRC_CACHE"
    TARBALL=$tarball
    if tarball_ok "$tarball"; then return 0; fi
    rm -f "$tarball"
    if fetch_upstream "$tarball" && tarball_ok "$tarball"; then
        note "verified $tarball (sha256 $FF_SHA256)"; return 0
    fi
    rm -f "$tarball" "$tarball.part"
    note "ffmpeg.org unreachable or checksum mismatch; falling back to the Debian source archive"
    if fetch_debian "$tarball" && tarball_ok "$tarball"; then
        note "verified $tarball (sha256 $FF_SHA256)"; return 0
    fi
    [ -f "$tarball" ] && note "got $tarball but its sha256 is $(sha256_of "$tarball"), expected $FF_SHA256"
    rm -f "$tarball"
    die "cannot obtain FFmpeg $FF_VERSION. Put the release tarball at $tarball (sha256 $FF_SHA256) and rerun."
}

# ---------------------------------------------------------------------------------------
# Source tree: pristine release + our patch series (never Debian's)

patches_hash() { cat "$HERE"/patches/*.patch 2>/dev/null | sha256_of /dev/stdin; }

prepare_tree() {
    SRC_TREE=$WORK/src-$FF_VERSION
    local stamp=$SRC_TREE/.vtremote-stamp want
    want="$FF_SHA256 $(patches_hash)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    note "extracting FFmpeg $FF_VERSION and applying $(set -- "$HERE"/patches/*.patch; echo $#) patches"
    rm -rf "$SRC_TREE"
    mkdir -p "$SRC_TREE"
    # Extracted files keep the release's mtimes, so an existing build directory only
    # recompiles what the patches touch.
    tar --no-same-owner -xJf "$TARBALL" --strip-components=1 -C "$SRC_TREE"
    local p
    for p in "$HERE"/patches/*.patch; do
        patch -d "$SRC_TREE" -p1 --forward --batch --quiet --no-backup-if-mismatch -i "$p" ||
            die "patch $(basename "$p") does not apply to FFmpeg $FF_VERSION"
    done
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------------------------------
# libvtremote

CAPI_VERSION=""
# MAJOR.MINOR.PATCH from include/vtremote.h. sed -E: BSD sed's basic regexes have no \|.
# paste needs its "-" operand on BSD.
capi_version() {
    sed -nE 's/^#define VTREMOTE_VERSION_(MAJOR|MINOR|PATCH) //p' "$ROOT/include/vtremote.h" | paste -sd. -
}

# What a static libvtremote needs linked after it when rustc did not say (a cached build
# prints no native-static-libs note and there is no earlier record of it).
default_native_libs() {
    case $(uname -s) in
        Darwin) echo "-liconv -lSystem -lc -lm" ;;
        *) echo "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" ;;
    esac
}

# set_dylib_id FILE ID (macOS): the install name programs linked against FILE will load it
# by, then a new ad-hoc signature (install_name_tool invalidates the old one, and arm64
# refuses unsigned code). Needs the Xcode command line tools.
set_dylib_id() {
    command -v install_name_tool >/dev/null ||
        die "install_name_tool not found: install the Xcode command line tools (xcode-select --install)"
    install_name_tool -id "$2" "$1" || die "install_name_tool -id $2 $1 failed"
    codesign --force --sign - "$1" 2>/dev/null || die "codesign --sign - $1 failed"
}

capi_build() {
    command -v cargo >/dev/null || die "cargo is required to build libvtremote"
    local target_dir=${CARGO_TARGET_DIR:-$ROOT/target} log native os
    os=$(uname -s)
    local link_args=()
    # shellcheck disable=SC2054 # the commas belong to the linker flag
    case $os in
        Linux) link_args=(-C link-arg=-Wl,-soname,libvtremote.so.0) ;;
        # Room in the Mach-O header for the longer install name set below.
        Darwin) link_args=(-C link-arg=-Wl,-headerpad_max_install_names) ;;
    esac
    log=$(mktemp)
    note "building libvtremote (cargo, release, feature capi)"
    (cd "$ROOT" && cargo rustc -p vtremote-client --features capi --lib --release \
        --crate-type staticlib --crate-type cdylib -- --print native-static-libs \
        ${link_args[@]+"${link_args[@]}"}) 2>&1 | tee "$log" | grep -Ev '^note: |^$' >&2 ||
        { rm -f "$log"; die "cargo build of libvtremote failed"; }
    mkdir -p "$WORK"
    native=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n1)
    rm -f "$log"
    if [ -n "$native" ]; then echo "$native" >"$WORK/capi-native-libs"
    elif [ -f "$WORK/capi-native-libs" ]; then native=$(cat "$WORK/capi-native-libs")
    else native=$(default_native_libs); fi
    CAPI_VERSION=$(capi_version)

    local rel=$target_dir/release
    # Staged for users: build/{lib,include}, a .pc with prefix = build dir.
    mkdir -p "$out/lib/pkgconfig" "$out/include"
    cp -f "$rel/libvtremote_client.a" "$out/lib/libvtremote.a"
    if [ -f "$rel/libvtremote_client.so" ]; then
        cp -f "$rel/libvtremote_client.so" "$out/lib/libvtremote.so.$CAPI_VERSION"
        ln -sf "libvtremote.so.$CAPI_VERSION" "$out/lib/libvtremote.so.0"
        ln -sf "libvtremote.so.0" "$out/lib/libvtremote.so"
    elif [ -f "$rel/libvtremote_client.dylib" ]; then
        # libvtremote.0.dylib (the .so.0 of macOS), known by its absolute path: programs
        # linked against build/lib run without DYLD_LIBRARY_PATH. --install-capi sets the
        # installed copy's own path.
        rm -f "$out/lib/libvtremote.dylib"
        cp -f "$rel/libvtremote_client.dylib" "$out/lib/libvtremote.0.dylib"
        set_dylib_id "$out/lib/libvtremote.0.dylib" "$out/lib/libvtremote.0.dylib"
        ln -sf "libvtremote.0.dylib" "$out/lib/libvtremote.dylib"
    fi
    cp -f "$ROOT/include/vtremote.h" "$out/include/vtremote.h"
    write_pc "$out" "$out/lib" "$out/include" "$native" >"$out/lib/pkgconfig/vtremote.pc"

    # Private static-only copy for FFmpeg's configure: ffmpeg links libvtremote statically,
    # so build/bin/ffmpeg runs without LD_LIBRARY_PATH.
    CAPI_STAGE=$WORK/capi-static
    mkdir -p "$CAPI_STAGE/lib/pkgconfig" "$CAPI_STAGE/include"
    cp -f "$rel/libvtremote_client.a" "$CAPI_STAGE/lib/libvtremote.a"
    cp -f "$ROOT/include/vtremote.h" "$CAPI_STAGE/include/vtremote.h"
    write_pc "$CAPI_STAGE" "$CAPI_STAGE/lib" "$CAPI_STAGE/include" "" |
        sed "s|^Libs: .*|Libs: -L\${libdir} -lvtremote $native|" >"$CAPI_STAGE/lib/pkgconfig/vtremote.pc"
}

write_pc() { # prefix libdir includedir libs_private
    sed -e "s|@PREFIX@|$1|" -e "s|@LIBDIR@|$2|" -e "s|@INCLUDEDIR@|$3|" \
        -e "s|@VERSION@|$CAPI_VERSION|" -e "s|@LIBS_PRIVATE@|$4|" \
        "$ROOT/crates/vtremote-client/vtremote.pc.in"
}

capi_install() {
    local prefix=$1 dest=${DESTDIR:-} native
    [ -f "$out/lib/libvtremote.a" ] || die "run ffmpeg/build.sh (or --capi-only) first"
    CAPI_VERSION=$(capi_version)
    native=$(cat "$WORK/capi-native-libs" 2>/dev/null || default_native_libs)
    mkdir -p "$dest$prefix/lib/pkgconfig" "$dest$prefix/include"
    install -m 644 "$out/lib/libvtremote.a" "$dest$prefix/lib/"
    if [ -f "$out/lib/libvtremote.so.$CAPI_VERSION" ]; then
        install -m 755 "$out/lib/libvtremote.so.$CAPI_VERSION" "$dest$prefix/lib/"
        ln -sf "libvtremote.so.$CAPI_VERSION" "$dest$prefix/lib/libvtremote.so.0"
        ln -sf "libvtremote.so.0" "$dest$prefix/lib/libvtremote.so"
    fi
    if [ -f "$out/lib/libvtremote.0.dylib" ]; then
        # The install name is where the library will live ($prefix, not $DESTDIR$prefix):
        # without it, programs linked with `pkg-config --libs vtremote` would look for the
        # build tree's copy ("Library not loaded") once that moves.
        rm -f "$dest$prefix/lib/libvtremote.dylib"
        install -m 755 "$out/lib/libvtremote.0.dylib" "$dest$prefix/lib/"
        set_dylib_id "$dest$prefix/lib/libvtremote.0.dylib" "$prefix/lib/libvtremote.0.dylib"
        ln -sf "libvtremote.0.dylib" "$dest$prefix/lib/libvtremote.dylib"
    elif [ -f "$out/lib/libvtremote.dylib" ]; then
        die "$out/lib/libvtremote.dylib is from an older build.sh: run ffmpeg/build.sh --capi-only again"
    fi
    install -m 644 "$ROOT/include/vtremote.h" "$dest$prefix/include/"
    write_pc "$prefix" "$prefix/lib" "$prefix/include" "$native" >"$dest$prefix/lib/pkgconfig/vtremote.pc"
    note "installed libvtremote $CAPI_VERSION into $dest$prefix"
}

# ---------------------------------------------------------------------------------------
# FFmpeg

minimal_flags() {
    # shellcheck disable=SC2054 # the commas belong to FFmpeg's configure flags
    local e=(
        --disable-everything --disable-autodetect --disable-doc --disable-ffplay
        --disable-network --disable-debug
        --enable-videotoolbox-remote
        --enable-decoder=h264_videotoolbox_remote,hevc_videotoolbox_remote,h264,hevc,rawvideo,wrapped_avframe,aac,pcm_s16le
        --enable-encoder=h264_videotoolbox_remote,hevc_videotoolbox_remote,rawvideo,wrapped_avframe,pcm_s16le
        --enable-parser=h264,hevc,aac
        --enable-demuxer=mov,matroska,mpegts,h264,hevc,rawvideo,aac,framemd5
        --enable-muxer=mp4,mov,matroska,mpegts,h264,hevc,rawvideo,framemd5,framecrc,md5,null
        --enable-protocol=file,pipe
        --enable-indev=lavfi
        --enable-filter=buffer,buffersink,abuffer,abuffersink,format,aformat,null,anull,scale,setparams,aresample,testsrc,testsrc2,trim,atrim,setpts,fps,split,copy
        --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,aac_adtstoasc,null
    )
    printf '%s\n' "${e[@]}"
}

full_flags() {
    printf '%s\n' --enable-videotoolbox-remote --disable-doc
}

build_ffmpeg() {
    local bdir=$WORK/build-$FF_VERSION-$flavor flags=() stamp want flag
    # A while-read loop: mapfile is bash 4. ${flags[@]+...} below: bash 3.2 calls an empty
    # array unbound under set -u.
    while IFS= read -r flag; do flags+=("$flag"); done < <(if [ "$flavor" = minimal ]; then minimal_flags; else full_flags; fi)
    flags+=(${extra_flags[@]+"${extra_flags[@]}"})
    mkdir -p "$bdir"
    stamp=$bdir/.vtremote-configure
    want="$(printf '%s ' ${flags[@]+"${flags[@]}"}) $(patches_hash) $(sha256_of "$CAPI_STAGE/lib/pkgconfig/vtremote.pc")"
    export PKG_CONFIG_PATH="$CAPI_STAGE/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    if [ ! -f "$bdir/config.h" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        note "configuring FFmpeg $FF_VERSION ($flavor) in $bdir"
        (cd "$bdir" && "$SRC_TREE/configure" ${flags[@]+"${flags[@]}"}) >"$bdir/configure.out" 2>&1 || {
            tail -n 30 "$bdir/configure.out" >&2
            [ -f "$bdir/ffbuild/config.log" ] && tail -n 40 "$bdir/ffbuild/config.log" >&2
            die "FFmpeg configure failed (full log: $bdir/ffbuild/config.log)"
        }
        echo "$want" >"$stamp"
    fi
    # libvtremote.a is not a make dependency; relinking the programs picks up a new one.
    rm -f "$bdir"/ffmpeg "$bdir"/ffprobe "$bdir"/ffmpeg_g "$bdir"/ffprobe_g
    note "compiling FFmpeg $FF_VERSION with $jobs jobs"
    make -C "$bdir" -j"$jobs" >"$bdir/make.out" 2>&1 || {
        grep -E 'error|Error' "$bdir/make.out" | head -n 40 >&2
        die "FFmpeg build failed (full log: $bdir/make.out)"
    }
    grep -E 'vtremote_.*warning' "$bdir/make.out" >&2 || true
    if [ "$compile_only" = 1 ]; then
        note "FFmpeg $FF_VERSION built in $bdir (compile only; build/bin untouched)"
    else
        mkdir -p "$out/bin"
        install -m 755 "$bdir/ffmpeg" "$bdir/ffprobe" "$out/bin/"
        note "installed $out/bin/ffmpeg and $out/bin/ffprobe (FFmpeg $FF_VERSION, $flavor)"
    fi
}

case $action in
    clean) rm -rf "$WORK"; note "removed $WORK (kept the source cache $SRC_CACHE)" ;;
    fetch) resolve_version "$version"; fetch_source; note "$TARBALL ok" ;;
    capi) capi_build ;;
    install-capi) capi_install "$install_prefix" ;;
    build)
        resolve_version "$version"
        fetch_source
        prepare_tree
        capi_build
        build_ffmpeg
        ;;
esac

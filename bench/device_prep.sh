#!/usr/bin/env bash
# Prepares .device-carry/ (ignored) for a run on the lent GPU machine, which has CUDA, CMake
# and Ninja but no network and none of our Debian libraries. Carried: the pinned llama.cpp
# bundle (cloned there), the Debian packages joulebench builds against (unpacked there into a
# prefix), the tokenizer vocabularies of the synthetic shapes, and (HELLASWAG=1) a slice of the
# HellaSwag data for the throughput check. Prebuilt CUDA binaries that a device run sent back
# (jb-cuda.tar.xz.part*, see bench/gpu_common.sh) are kept: put them in .device-carry/ and
# pass NO_BUILD_INPUTS=1 to leave out the bundle and packages (the 64 MiB carry limit, which
# the working tree counts towards too).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
carry="$root/.device-carry"
mkdir -p "$carry/debs" "$carry/data"
grep -qxF "/.device-carry/" "$root/.git/info/exclude" 2>/dev/null || echo "/.device-carry/" >> "$root/.git/info/exclude"

if [ "${NO_BUILD_INPUTS:-0}" = 1 ]; then
    rm -rf "$carry/llama.bundle" "$carry/llama-src.tar.xz" "$carry/debs"
else
    # The pinned llama.cpp as a source archive (11 MB; the git bundle with its history is 34 MB of
    # the 64 MiB a call may carry), its commit beside it for the build's provenance.
    rm -f "$carry/llama.bundle"
    git -C "$root/third_party/llama.cpp" archive --format=tar HEAD -- . ':!models/*.gguf' | xz -T0 -6 > "$carry/llama-src.tar.xz"
    git -C "$root/third_party/llama.cpp" rev-parse --short=7 HEAD > "$carry/llama-commit"
    (cd "$carry/debs" && rm -f ./*.deb && apt-get download -q libfmt-dev libfmt9 libcli11-dev nlohmann-json3-dev \
        libsqlite3-dev libsqlite3-0 zlib1g-dev 2>/dev/null)
    for f in "$carry"/debs/*%3a*.deb; do [ -e "$f" ] && mv "$f" "${f//%3a/_}"; done
fi

# VOCABS: the tokenizer vocabularies the synthetic shapes need (qwen2: the Qwen2.5 shapes, llama-bpe:
# Llama-3); with carried binaries only one may fit.
rm -rf "$carry/vocab" && mkdir -p "$carry/vocab"
for v in ${VOCABS:-qwen2 llama-bpe}; do cp "$root/third_party/llama.cpp/models/ggml-vocab-$v.gguf" "$carry/vocab/"; done

rm -rf "$carry/data"
shared="$root/../shared/datasets"
if [ "${HELLASWAG:-0}" = 1 ] && [ -f "$shared/hellaswag/hellaswag_val_full.txt" ]; then
    mkdir -p "$carry/data/hellaswag"
    head -n 2400 "$shared/hellaswag/hellaswag_val_full.txt" > "$carry/data/hellaswag/hellaswag_val_full.txt"
fi

# HEAD_TAR=1: also the committed tree, so that a device run builds exactly HEAD whatever is
# uncommitted here (the device tool copies the working tree; with carried binaries the carry
# has no room for it):
#   mkdir -p /tmp/jb && tar -xf .device-carry/head.tar -C /tmp/jb && ln -s "$PWD/.device-carry" /tmp/jb/ && cd /tmp/jb
rm -f "$carry/head.tar"
if [ "${HEAD_TAR:-0}" = 1 ]; then
    git -C "$root" archive --format=tar -o "$carry/head.tar" HEAD
fi
du -sh "$carry"

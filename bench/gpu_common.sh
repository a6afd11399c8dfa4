# Sourced by the GPU machine scripts (bench/gpu_campaign.sh, bench/gpu_multigpu.sh): the deadline,
# logging, a tmpfs for model files, and the CUDA binaries (carried from an earlier machine, or
# built here and sent back). The caller sets root, WORK, OUT and DEADLINE_S, and cds to root.
#
# Binaries: llama.cpp is built as shared libraries (JOULEBENCH_LLAMA_SHARED) so that joulebench and
# llama-bench share one copy of the CUDA kernels; the pair, those libraries and the Debian ones we
# carry come back as $OUT/jb-cuda.tar.xz.partNN (at most 15 MiB each, the device tool's file
# limit). Copy them into .device-carry/ here and prepare with NO_BUILD_INPUTS=1
# bench/device_prep.sh: the next machine unpacks them instead of building (about 5 minutes).
# The CPU code is built without -march=native (GGML_NATIVE=OFF: AVX2/FMA/F16C) so that the
# binaries run on another host's processor.

t_start=$(date +%s)
carry="$root/.device-carry"
mkdir -p "$WORK/logs" "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$WORK/campaign.log"; }
left() { echo $((DEADLINE_S - ($(date +%s) - t_start))); }
# timed LABEL CMD...: runs CMD, appends "LABEL: N s (exit RC)" to logs/time.log
timed() {
    local label=$1 t0 rc
    shift
    t0=$(date +%s.%N)
    "$@"
    rc=$?
    echo "$label: $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s (exit $rc)" >> "$WORK/logs/time.log"
    return $rc
}

# copy_db DB DIR: the database into DIR with everything it holds. A sweep stopped by a signal can
# leave its last cells in DB-wal (SQLite's write-ahead log), which a plain cp of DB leaves behind:
# an H100 run lost its 39 cells that way (bench/results/h100/2026-11-25-postfix-7b/). The log is
# folded into DB first; if that fails, it travels beside it.
copy_db() {
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall(); c.close()" "$1" 2>> "$WORK/logs/copy_db.log" ||
        cp "$1-wal" "$2/" 2>/dev/null
    cp "$1" "$2/"
}

# stop_after SECONDS CMD...: CMD with SIGINT after SECONDS (a sweep then finishes its cell and
# stops cleanly), SIGKILL 30 s later. --foreground: without it timeout(1) signals the process group
# too, so the command gets SIGINT twice, which sweeps of joulebench before 1ae4e28 took for a
# user insisting and died of mid-cell.
stop_after() {
    local s=$1
    shift
    timeout --foreground -s INT -k 30 "$s" "$@"
}

# quant_path JSON: the quantized file a `joulebench quantize -o json` result names (fails if none).
quant_path() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['path'])" "$1" 2>/dev/null; }

# tag_llama_bench KEY=VALUE...: llama-bench's JSON array (stdin) as one JSON line per row, the tags
# added in order (the scripts grep for them to skip what a previous call measured).
tag_llama_bench() {
    python3 -c "import json,sys; tags=dict(a.split('=', 1) for a in sys.argv[1:]); [print(json.dumps(dict(r, **tags))) for r in json.load(sys.stdin)]" "$@"
}

# models_on_tmpfs SIZE: model files in $WORK/models, a tmpfs when one can be mounted (a 7B shape
# under seven schemes is ~50 GB; the machines' disks are 64-128 GB).
models_on_tmpfs() {
    if ! mountpoint -q "$WORK/models" 2>/dev/null; then
        mkdir -p "$WORK/models"
        mount -t tmpfs -o "size=$1" tmpfs "$WORK/models" 2>/dev/null && log "models on a tmpfs" || log "models on disk"
    fi
    mkdir -p "$WORK/models/cache"
}

# cuda_pair TOOL ARCHIVE: joulebench and llama.cpp's TOOL (llama-bench, llama-server) with CUDA, in
# $WORK/bin: unpacked from .device-carry/ARCHIVE.tar.xz.part* when carried, else built here and sent
# back as $OUT/ARCHIVE.tar.xz.partNN (SEND_BINARIES=0: kept on this machine only; the device tool
# returns at most 8 files, and a warm machine's next call finds them in $WORK/bin). Sets JB and TOOL_BIN;
# JB and TOOL_BIN given (a local test on the CPU build) are used as they are.
cuda_pair() {
    local tool=$1 archive=$2
    export LD_LIBRARY_PATH="$WORK/bin/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    JB="${JB:-$WORK/bin/joulebench}"
    TOOL_BIN="${TOOL_BIN:-$WORK/bin/$tool}"
    if [ ! -x "$JB" ] || [ ! -x "$TOOL_BIN" ]; then
        if compgen -G "$carry/$archive.tar.xz.part*" > /dev/null; then
            mkdir -p "$WORK/bin" && cat "$carry/$archive".tar.xz.part* | tar -xJ -C "$WORK/bin" && log "carried binaries unpacked"
        fi
    fi
    if [ -x "$JB" ] && [ -x "$TOOL_BIN" ] && ! ldd "$JB" "$TOOL_BIN" | grep -q "not found" && "$JB" --version > /dev/null 2>&1; then
        return 0
    fi
    ldd "$JB" "$TOOL_BIN" 2>&1 | grep "not found" | sort -u
    log "no usable prebuilt joulebench + $tool: building here"
    local build="$WORK/build-cuda"
    timed build env BUILD="$build" TARGETS="joulebench $tool" \
        CMAKE_ARGS="-DJOULEBENCH_LLAMA_SHARED=ON -DGGML_NATIVE=OFF" bench/gpu_build.sh || return 1
    rm -rf "$WORK/bin" && mkdir -p "$WORK/bin/lib"
    cp "$build/bin/joulebench" "$build/bin/$tool" "$WORK/bin/"
    JB="$WORK/bin/joulebench"
    TOOL_BIN="$WORK/bin/$tool"
    find "$build" -name 'lib*.so*' \( -type f -o -type l \) -exec cp -P {} "$WORK/bin/lib/" \;
    strip "$JB" "$TOOL_BIN" "$WORK/bin/lib/"*.so* 2>/dev/null
    # The carried Debian libraries (fmt, sqlite) travel with the binaries.
    LD_LIBRARY_PATH="/opt/jbdeps/usr/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH" ldd "$JB" "$TOOL_BIN" |
        awk '$3 ~ /^\/opt\/jbdeps/ {print $3}' | sort -u | xargs -r -I{} cp -L {} "$WORK/bin/lib/"
    if ldd "$JB" "$TOOL_BIN" | grep "not found"; then
        log "libraries missing after the build"
        return 1
    fi
    if [ "${SEND_BINARIES:-1}" = 1 ]; then
        tar -cf - -C "$WORK/bin" joulebench "$tool" lib | xz -T0 -6 | split -b 15m -d - "$OUT/$archive.tar.xz.part"
        ls -la "$OUT/$archive".tar.xz.part* | tee -a "$WORK/campaign.log"
    fi
}

# cuda_binaries: joulebench and llama-bench (JB, LB); serve_binaries: joulebench and llama-server (JB, LS).
cuda_binaries() {
    TOOL_BIN=${LB:-}
    cuda_pair llama-bench jb-cuda || return 1
    LB=$TOOL_BIN
}
serve_binaries() {
    TOOL_BIN=${LS:-}
    cuda_pair llama-server jb-serve-cuda || return 1
    LS=$TOOL_BIN
}

# host_facts: the GPU(s), driver and binaries this run used, once per machine.
host_facts() {
    [ -f "$WORK/gpu.txt" ] || nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv,noheader \
        > "$WORK/gpu.txt" || echo "no GPU, none, 0, 0" > "$WORK/gpu.txt"
    "$JB" --version > "$WORK/version.txt" 2>&1
    export JOULEBENCH_VOCAB_DIR="${JOULEBENCH_VOCAB_DIR:-$carry/vocab}"
}

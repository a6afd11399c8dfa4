# Locates llama.cpp. In order of preference:
#   1. -DJOULEBENCH_LLAMA_DIR=<llama.cpp source tree>
#   2. third_party/llama.cpp, fetched by scripts/setup.sh (pinned: node-llama-cpp@3.22.1, commit de3ff81)
#   3. an installed llama (find_package(llama))
# Defines the targets `llama` and `ggml` and JOULEBENCH_LLAMA_COMMIT.

set(_jb_llama_src "")
if(JOULEBENCH_LLAMA_DIR)
    if(NOT EXISTS "${JOULEBENCH_LLAMA_DIR}/include/llama.h")
        message(FATAL_ERROR "JOULEBENCH_LLAMA_DIR=${JOULEBENCH_LLAMA_DIR} has no include/llama.h: point it at a llama.cpp source tree")
    endif()
    set(_jb_llama_src "${JOULEBENCH_LLAMA_DIR}")
elseif(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/third_party/llama.cpp/include/llama.h")
    set(_jb_llama_src "${CMAKE_CURRENT_SOURCE_DIR}/third_party/llama.cpp")
endif()

# A source tree without git (the GPU machine's carried archive) names its commit with
# -DJOULEBENCH_LLAMA_COMMIT=de3ff81.
if(NOT JOULEBENCH_LLAMA_COMMIT)
    set(JOULEBENCH_LLAMA_COMMIT "unknown")
endif()
if(_jb_llama_src)
    find_package(Git QUIET)
    if(GIT_FOUND AND EXISTS "${_jb_llama_src}/.git")
        execute_process(COMMAND ${GIT_EXECUTABLE} -C "${_jb_llama_src}" rev-parse --short=7 HEAD
                        OUTPUT_VARIABLE JOULEBENCH_LLAMA_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
    message(STATUS "joulebench: llama.cpp from ${_jb_llama_src} (commit ${JOULEBENCH_LLAMA_COMMIT})")

    set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
    set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
    set(LLAMA_BUILD_SERVER OFF CACHE BOOL "" FORCE)
    set(LLAMA_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
    set(LLAMA_BUILD_APP OFF CACHE BOOL "" FORCE)
    set(LLAMA_OPENSSL OFF CACHE BOOL "" FORCE)
    set(LLAMA_ALL_WARNINGS OFF CACHE BOOL "" FORCE)
    # llama-common: the reference tools and llama-server need it (built only when they are).
    if(JOULEBENCH_LLAMA_TOOLS OR JOULEBENCH_LLAMA_SERVER)
        set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
    else()
        set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)
    endif()
    # llama-server's web UI is never embedded: provisioning it would run npm or download from
    # Hugging Face at build time; the server then answers the API only, which is all we use.
    set(LLAMA_BUILD_UI OFF CACHE BOOL "" FORCE)
    set(LLAMA_USE_PREBUILT_UI OFF CACHE BOOL "" FORCE)
    # Static by default (one self-contained binary). JOULEBENCH_LLAMA_SHARED=ON builds libllama and
    # libggml* as shared libraries that joulebench and the reference tools share: a CUDA build then
    # holds one copy of the CUDA kernels instead of one per executable (bench/gpu_campaign.sh
    # sends such binaries back from the GPU machine so that the next machine need not build).
    set(BUILD_SHARED_LIBS ${JOULEBENCH_LLAMA_SHARED} CACHE BOOL "" FORCE)
    set(GGML_NATIVE ON CACHE BOOL "")
    if(JOULEBENCH_CUDA)
        set(GGML_CUDA ON CACHE BOOL "" FORCE)
        if(NOT CMAKE_CUDA_ARCHITECTURES)
            set(CMAKE_CUDA_ARCHITECTURES "80;86;89;90" CACHE STRING "" FORCE)
        endif()
    endif()
    add_subdirectory("${_jb_llama_src}" "${CMAKE_BINARY_DIR}/llama.cpp" EXCLUDE_FROM_ALL)
    if(JOULEBENCH_LLAMA_TOOLS)
        # The reference tools, from the same build, for parity and overhead benchmarks.
        # Not built by default: `cmake --build build --target llama-bench llama-perplexity`.
        add_subdirectory("${_jb_llama_src}/tools/llama-bench" "${CMAKE_BINARY_DIR}/llama-tools/llama-bench" EXCLUDE_FROM_ALL)
        add_subdirectory("${_jb_llama_src}/tools/perplexity" "${CMAKE_BINARY_DIR}/llama-tools/perplexity" EXCLUDE_FROM_ALL)
    endif()
    if(JOULEBENCH_LLAMA_SERVER)
        # llama-server from the same build, for `serve` and its tests (src/serve/). Not built by
        # default: `cmake --build build --target llama-server`. It links mtmd (multimodal input)
        # and an empty web-UI table (tools/ui with no assets). Its CMake files locate llama.cpp's
        # headers and scripts through PROJECT_SOURCE_DIR, which is ours here, so point it there
        # for these three directories only.
        set(_jb_project_source_dir "${PROJECT_SOURCE_DIR}")
        set(PROJECT_SOURCE_DIR "${_jb_llama_src}")
        # ... and the version variables that llama.cpp's top-level CMakeLists sets in its own scope.
        foreach(_jb_var LLAMA_VERSION_MAJOR LLAMA_VERSION_BASE LLAMA_BUILD_NUMBER)
            get_directory_property(${_jb_var} DIRECTORY "${_jb_llama_src}" DEFINITION ${_jb_var})
        endforeach()
        add_subdirectory("${_jb_llama_src}/tools/mtmd" "${CMAKE_BINARY_DIR}/llama-tools/mtmd" EXCLUDE_FROM_ALL)
        add_subdirectory("${_jb_llama_src}/tools/ui" "${CMAKE_BINARY_DIR}/llama-tools/ui" EXCLUDE_FROM_ALL)
        add_subdirectory("${_jb_llama_src}/tools/server" "${CMAKE_BINARY_DIR}/llama-tools/server" EXCLUDE_FROM_ALL)
        set(PROJECT_SOURCE_DIR "${_jb_project_source_dir}")
    endif()
    set(JOULEBENCH_LLAMA_SOURCE_DIR "${_jb_llama_src}")
else()
    find_package(llama QUIET)
    if(NOT llama_FOUND)
        message(FATAL_ERROR
            "llama.cpp not found. Run scripts/setup.sh (fetches the pinned llama.cpp into third_party/), "
            "or pass -DJOULEBENCH_LLAMA_DIR=<llama.cpp source>, or install llama so that find_package(llama) finds it.")
    endif()
    message(STATUS "joulebench: installed llama ${llama_VERSION}")
    set(JOULEBENCH_LLAMA_TOOLS OFF)
    set(JOULEBENCH_LLAMA_SERVER OFF)
    set(JOULEBENCH_LLAMA_SOURCE_DIR "")
endif()

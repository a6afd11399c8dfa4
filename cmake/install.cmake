# The library as a package: `cmake --install build` puts one static archive (libjoulebench.a: every
# library module with llama.cpp and ggml inside, so that a program links one file), the public
# headers (include/joulebench/), the shipped data and model (share/joulebench/), and a CMake package
# config, so that another project does
#
#   find_package(joulebench REQUIRED)
#   target_link_libraries(app PRIVATE joulebench::joulebench)
#
# docs/api.md is the user's page. The CLI stays a self-contained binary (bin/joulebench).

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The library modules (those this build has), in no particular order: one archive needs no link order.
set(_archives "")
foreach(_t IN ITEMS jb_util jb_energy jb_engine jb_tasks jb_quant jb_metrics jb_store jb_report jb_hardware jb_sweep
        jb_results jb_cluster jb_serve jb_tune jb_api llama ggml ggml-base ggml-cpu)
    if(TARGET ${_t})
        get_target_property(_type ${_t} TYPE)
        if(_type STREQUAL "STATIC_LIBRARY")
            list(APPEND _archives ${_t})
        endif()
    endif()
endforeach()
if(JOULEBENCH_CUDA AND TARGET ggml-cuda)
    list(APPEND _archives ggml-cuda)
endif()

# ar -M merges archives; the MRI script names each by its built path.
set(_mri "create ${CMAKE_BINARY_DIR}/lib/libjoulebench.a\n")
foreach(_t IN LISTS _archives)
    string(APPEND _mri "addlib $<TARGET_FILE:${_t}>\n")
endforeach()
string(APPEND _mri "save\nend\n")
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/joulebench-archive.mri CONTENT "${_mri}")
set(_deps "")
foreach(_t IN LISTS _archives)
    list(APPEND _deps $<TARGET_FILE:${_t}>)
endforeach()
add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/lib/libjoulebench.a
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/lib
    COMMAND ${CMAKE_COMMAND} -E remove -f ${CMAKE_BINARY_DIR}/lib/libjoulebench.a
    COMMAND ${CMAKE_AR} -M < ${CMAKE_BINARY_DIR}/joulebench-archive.mri
    DEPENDS ${_archives} ${CMAKE_BINARY_DIR}/joulebench-archive.mri
    COMMENT "Merging the library modules, llama.cpp and ggml into libjoulebench.a"
    VERBATIM)
add_custom_target(joulebench_archive ALL DEPENDS ${CMAKE_BINARY_DIR}/lib/libjoulebench.a)

# What a program must link besides the archive, as the package config will say it.
set(JOULEBENCH_PACKAGE_OPENMP OFF)
if(GGML_OPENMP_ENABLED OR (GGML_OPENMP AND OpenMP_CXX_FOUND))
    set(JOULEBENCH_PACKAGE_OPENMP ON)
endif()
set(JOULEBENCH_PACKAGE_CUDA ${JOULEBENCH_CUDA})

install(FILES ${CMAKE_BINARY_DIR}/lib/libjoulebench.a DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/joulebench DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS joulebench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/data/samples ${CMAKE_SOURCE_DIR}/data/hardware ${CMAKE_SOURCE_DIR}/data/calibration
        DESTINATION ${CMAKE_INSTALL_DATADIR}/joulebench/data)
install(FILES ${CMAKE_SOURCE_DIR}/models/stories260K.gguf DESTINATION ${CMAKE_INSTALL_DATADIR}/joulebench/models)

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/joulebench-config.cmake.in
    ${CMAKE_BINARY_DIR}/joulebench-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/joulebench
    PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/joulebench-config-version.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/joulebench-config.cmake ${CMAKE_BINARY_DIR}/joulebench-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/joulebench)

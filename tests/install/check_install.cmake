# cmake -DBUILD_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... -DC_COMPILER=...
#       [-DEXTRA_FLAGS=...] -P check_install.cmake
#
# Installs the build into WORK_DIR/prefix with `cmake --install --prefix`,
# checks the installed files, then builds the outside program
# tests/install/consumer twice against that prefix: with pkg-config and with
# find_package(tofu), and runs what it built.
cmake_minimum_required(VERSION 3.20)

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# run(<what> COMMAND ...): runs a command, fails the test with its output.
function(run what)
  execute_process(${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "ok: ${what}")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The libraries may land in lib/ or lib64/ (GNUInstallDirs).
file(GLOB pc_files ${prefix}/lib*/pkgconfig/tofu.pc)
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one tofu.pc under ${prefix}, found: ${pc_files}")
endif()
get_filename_component(pcdir ${pc_files} DIRECTORY)
get_filename_component(libdir ${pcdir} DIRECTORY)

foreach(f include/tofu.h bin/tofucat share/man/man1/tofucat.1)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
foreach(f libtofu.a libtofu.so libtofu.so.0 tofu.pc cmake/tofu/tofuConfig.cmake
          cmake/tofu/tofuConfigVersion.cmake cmake/tofu/tofuTargets.cmake)
  if(f STREQUAL "tofu.pc")
    set(f pkgconfig/tofu.pc)
  endif()
  if(NOT EXISTS ${libdir}/${f})
    message(FATAL_ERROR "not installed: ${libdir}/${f}")
  endif()
endforeach()

# The shared library's SONAME is libtofu.so.0 (binutils' readelf, when there).
find_program(READELF readelf)
if(READELF)
  run("readelf -d libtofu.so" COMMAND ${READELF} -d ${libdir}/libtofu.so)
  if(NOT run_output MATCHES "SONAME[^\n]*libtofu\\.so\\.0\\]")
    message(FATAL_ERROR "libtofu.so has no SONAME libtofu.so.0:\n${run_output}")
  endif()
endif()

run("installed tofucat --version" COMMAND ${prefix}/bin/tofucat --version)

set(consumer ${SOURCE_DIR}/tests/install/consumer)
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")

# 1. pkg-config
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "pkg-config is not installed (Debian: apt-get install pkg-config)")
endif()
set(ENV{PKG_CONFIG_PATH} ${pcdir})
run("pkg-config --cflags --libs tofu" COMMAND ${PKG_CONFIG} --cflags --libs tofu)
separate_arguments(pc_flags UNIX_COMMAND "${run_output}")
run("build with pkg-config"
    COMMAND ${C_COMPILER} ${extra} ${consumer}/main.c ${pc_flags} -o ${WORK_DIR}/consumer_pc)
run("run the pkg-config build"
    COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/consumer_pc)

# 2. find_package(tofu)
run("configure with find_package"
    COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/cmake-build
            -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
            "-DCMAKE_C_FLAGS=${EXTRA_FLAGS}")
run("build with find_package" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run("run tofu::tofu (shared)" COMMAND ${WORK_DIR}/cmake-build/consumer_shared)
run("run tofu::tofu_static" COMMAND ${WORK_DIR}/cmake-build/consumer_static)
message(STATUS "install test passed")

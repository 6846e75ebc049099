# cmake -DBUILD_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... -DC_COMPILER=...
#       [-DEXTRA_FLAGS=...]
#       [-DTOOLCHAIN_FILE=... -DEMULATOR=... -DTARGET_WINDOWS=ON]
#       -P check_install.cmake
#
# Installs the build into WORK_DIR/prefix with `cmake --install --prefix`,
# checks the installed files, then builds the outside program
# tests/install/consumer twice against that prefix: with pkg-config and with
# find_package(tofu), and runs what it built. With TOOLCHAIN_FILE (a
# cross-build), the outside program is configured with that toolchain and
# run through EMULATOR; TARGET_WINDOWS selects the Windows file names (DLL
# in bin/, import library libtofu.dll.a) and finds the DLL through WINEPATH,
# Wine's PATH.
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

# require_files(<dir> <file>...): every file exists under dir.
function(require_files dir)
  foreach(f ${ARGN})
    if(NOT EXISTS ${dir}/${f})
      message(FATAL_ERROR "not installed: ${dir}/${f}")
    endif()
  endforeach()
endfunction()

# The command that runs a program of the target platform, with the
# installed shared library on its search path.
function(target_runner out_var libdir bindir)
  if(TARGET_WINDOWS)
    set(${out_var} ${CMAKE_COMMAND} -E env "WINEPATH=Z:${bindir}" ${EMULATOR} PARENT_SCOPE)
  elseif(EMULATOR)
    set(${out_var} ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${EMULATOR} PARENT_SCOPE)
  else()
    set(${out_var} ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} PARENT_SCOPE)
  endif()
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
set(cmake_files cmake/tofu/tofuConfig.cmake cmake/tofu/tofuConfigVersion.cmake
                cmake/tofu/tofuTargets.cmake)
target_runner(runner ${libdir} ${prefix}/bin)

if(TARGET_WINDOWS)
  set(exe .exe)
  require_files(${prefix} include/tofu.h bin/tofucat.exe bin/libtofu.dll
                share/man/man1/tofucat.1)
  require_files(${libdir} libtofu.a libtofu.dll.a pkgconfig/tofu.pc pkgconfig/tofu-static.pc
                ${cmake_files})
else()
  set(exe "")
  require_files(${prefix} include/tofu.h bin/tofucat share/man/man1/tofucat.1
                share/doc/tofu/guide.md share/doc/tofu/api.md)
  require_files(${libdir} libtofu.a libtofu.so libtofu.so.0 pkgconfig/tofu.pc
                pkgconfig/tofu-static.pc ${cmake_files})
  # The shared library's SONAME is libtofu.so.0 (binutils' readelf, when there).
  find_program(READELF readelf)
  if(READELF)
    run("readelf -d libtofu.so" COMMAND ${READELF} -d ${libdir}/libtofu.so)
    if(NOT run_output MATCHES "SONAME[^\n]*libtofu\\.so\\.0\\]")
      message(FATAL_ERROR "libtofu.so has no SONAME libtofu.so.0:\n${run_output}")
    endif()
  endif()
endif()

run("installed tofucat --version" COMMAND ${runner} ${prefix}/bin/tofucat${exe} --version)

set(consumer ${SOURCE_DIR}/tests/install/consumer)
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")

# 1. pkg-config: `-ltofu` links the shared library (libtofu.so, or the DLL's
#    import library libtofu.dll.a, which MinGW's linker prefers to libtofu.a).
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "pkg-config is not installed (Debian: apt-get install pkg-config)")
endif()
set(ENV{PKG_CONFIG_PATH} ${pcdir})
set(ENV{PKG_CONFIG_LIBDIR} ${pcdir}) # the build machine's own .pc files are not the target's
run("pkg-config --cflags --libs tofu" COMMAND ${PKG_CONFIG} --cflags --libs tofu)
separate_arguments(pc_flags UNIX_COMMAND "${run_output}")
run("build with pkg-config"
    COMMAND ${C_COMPILER} ${extra} ${consumer}/main.c ${pc_flags} -o ${WORK_DIR}/consumer_pc${exe})
run("run the pkg-config build" COMMAND ${runner} ${WORK_DIR}/consumer_pc${exe})

# 1b. pkg-config tofu-static: libtofu.a itself, so the program runs with no
#     shared library on its search path and (ELF) needs none.
run("pkg-config --cflags --libs tofu-static" COMMAND ${PKG_CONFIG} --cflags --libs tofu-static)
separate_arguments(pc_static_flags UNIX_COMMAND "${run_output}")
run("build with pkg-config tofu-static"
    COMMAND ${C_COMPILER} ${extra} ${consumer}/main.c ${pc_static_flags}
            -o ${WORK_DIR}/consumer_pc_static${exe})
if(NOT TARGET_WINDOWS AND READELF)
  run("readelf -d consumer_pc_static" COMMAND ${READELF} -d ${WORK_DIR}/consumer_pc_static)
  if(run_output MATCHES "NEEDED[^\n]*libtofu")
    message(FATAL_ERROR "the tofu-static build needs the shared library:\n${run_output}")
  endif()
endif()
if(TARGET_WINDOWS)
  set(static_runner ${EMULATOR})
elseif(EMULATOR)
  set(static_runner ${EMULATOR})
else()
  set(static_runner "")
endif()
run("run the tofu-static build" COMMAND ${static_runner} ${WORK_DIR}/consumer_pc_static${exe})

# 2. find_package(tofu)
# A toolchain file re-roots package searches into the cross sysroot
# (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY), so the package is named by its
# directory there.
set(toolchain_arg "")
if(TOOLCHAIN_FILE)
  set(toolchain_arg -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE} -Dtofu_DIR=${libdir}/cmake/tofu)
endif()
run("configure with find_package"
    COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/cmake-build
            -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER} ${toolchain_arg}
            "-DCMAKE_C_FLAGS=${EXTRA_FLAGS}")
run("build with find_package" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run("run tofu::tofu (shared)" COMMAND ${runner} ${WORK_DIR}/cmake-build/consumer_shared${exe})
run("run tofu::tofu_static" COMMAND ${runner} ${WORK_DIR}/cmake-build/consumer_static${exe})
message(STATUS "install test passed")

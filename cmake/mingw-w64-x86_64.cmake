# Cross-build for 64-bit Windows with MinGW-w64 on Debian; tests run under
# Wine through CMAKE_CROSSCOMPILING_EMULATOR (see .ci/windows.sh).
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#
# The minimum target, Windows 10 1803 (_WIN32_WINNT 0x0A00, NTDDI_VERSION
# 0x0A000005: the first release with AF_UNIX), is set by src/CMakeLists.txt.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(TOFU_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "MinGW-w64 tool prefix")
set(CMAKE_C_COMPILER ${TOFU_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${TOFU_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${TOFU_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${TOFU_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static executables and DLL: no libgcc or libwinpthread DLL to ship next to
# them (a missing DLL makes a program exit with code 53 under Wine).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

# ctest runs every test executable through Wine.
set(TOFU_WINE /usr/lib/wine/wine64 CACHE FILEPATH "Wine loader used to run the tests")
set(CMAKE_CROSSCOMPILING_EMULATOR ${TOFU_WINE})

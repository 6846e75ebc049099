# `cmake --install`: the header, libtofu.a, libtofu.so.0 (SONAME), tofu.pc
# and a CMake package, so that outside projects can use either
#
#   pkg-config --cflags --libs tofu          (shared)
#   pkg-config --cflags --libs tofu-static   (libtofu.a: `--static tofu` would
#                                             still link libtofu.so, which the
#                                             linker prefers to the archive)
#   find_package(tofu) + tofu::tofu          (shared) or tofu::tofu_static
#
# Both are relocatable: the install prefix may be chosen at install time
# (cmake --install build --prefix DIR) and the tree moved afterwards.
include(CMakePackageConfigHelpers)

set(TOFU_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tofu)

set_target_properties(tofu_shared PROPERTIES EXPORT_NAME tofu)
set_target_properties(tofu_static PROPERTIES EXPORT_NAME tofu_static)

install(TARGETS tofu_shared tofu_static EXPORT tofuTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/tofu.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tofuTargets NAMESPACE tofu:: DESTINATION ${TOFU_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tofuConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tofuConfig.cmake
  INSTALL_DESTINATION ${TOFU_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tofuConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tofuConfig.cmake ${PROJECT_BINARY_DIR}/tofuConfigVersion.cmake
  DESTINATION ${TOFU_CMAKE_DIR})

# tofu.pc finds its prefix from its own location (${pcfiledir}), which
# pkg-config and pkgconf both provide, so --prefix at install time works.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TOFU_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(TOFU_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _tofu_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _tofu_pc_up "${_tofu_pc_up}")
  set(TOFU_PC_PREFIX "\${pcfiledir}/${_tofu_pc_up}")
  set(TOFU_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TOFU_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(TOFU_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Libs.private: what a static link (pkg-config --static) needs besides
# libtofu.a. (On Windows a static link also needs -DTOFU_STATIC, which
# pkg-config cannot express for one link mode only: see docs/guide.md.)
if(WIN32)
  set(TOFU_PC_LIBS_PRIVATE "-lws2_32 -lntdll -lmswsock")
else()
  set(TOFU_PC_LIBS_PRIVATE "-pthread")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/tofu.pc.in ${PROJECT_BINARY_DIR}/tofu.pc @ONLY)
# tofu-static.pc names the archive itself and defines TOFU_STATIC (needed on
# Windows, harmless elsewhere): -ltofu picks the shared library whenever
# both are installed, whatever --static says.
configure_file(${CMAKE_CURRENT_LIST_DIR}/tofu-static.pc.in ${PROJECT_BINARY_DIR}/tofu-static.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tofu.pc ${PROJECT_BINARY_DIR}/tofu-static.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
# The documentation the man page and the README point to.
file(GLOB TOFU_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${TOFU_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Warning flags for every target of the project: -Wall -Wextra (-Werror by
# default) with gcc, clang and MinGW-w64.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter)
if(TOFU_WERROR)
  add_compile_options(-Werror)
endif()

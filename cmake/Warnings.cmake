# Every target of the project compiles with these warnings, and warnings are errors.
add_library(attache_warnings INTERFACE)
target_compile_options(attache_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers)
# GCC 12 reports false out-of-bounds accesses inside libstdc++'s vector::insert at -O2 (GCC
# bugs 105545, 107852); the sanitizer build checks real accesses at run time instead.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(attache_warnings INTERFACE -Wno-array-bounds -Wno-stringop-overflow
                                               -Wno-stringop-overread)
endif()

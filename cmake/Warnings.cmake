# Every target of the project compiles with these warnings, and warnings are errors.
add_library(attache_warnings INTERFACE)
target_compile_options(attache_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers)

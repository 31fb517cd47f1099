# Installs the build into a scratch DESTDIR and checks what p11-kit needs: the module in its
# module directory and a .module file that keeps the agent from loading it.
#   cmake -DBUILD_DIR=... -DSTAGE=... -DMODULE_PATH=... -DCONFIGS=... -P install_check.cmake
file(REMOVE_RECURSE "${STAGE}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${STAGE}
                        ${CMAKE_COMMAND} --install ${BUILD_DIR}
                RESULT_VARIABLE result OUTPUT_QUIET)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${result}")
endif()
if(NOT EXISTS "${STAGE}${MODULE_PATH}/attache-pkcs11.so")
  message(FATAL_ERROR "no ${MODULE_PATH}/attache-pkcs11.so")
endif()
file(READ "${STAGE}${CONFIGS}/attache-pkcs11.module" config)
if(NOT config MATCHES "\nmodule: attache-pkcs11.so\n" OR NOT config MATCHES "\ndisable-in: attache-agent\n")
  message(FATAL_ERROR "attache-pkcs11.module lacks module: or disable-in:\n${config}")
endif()
file(REMOVE_RECURSE "${STAGE}")
message(STATUS "attache-pkcs11.so and attache-pkcs11.module installed for p11-kit")

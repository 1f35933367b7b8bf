# `cmake --install <build> --prefix P` lays out:
#   P/bin/                              the six binaries (install() in each service/tool directory)
#   P/include/orderflow/{events,messaging,runtime}/, P/include/orderflow/version.h
#   P/lib/liborderflow_{events,messaging,runtime}.a
#   P/lib/cmake/orderflow/              orderflowConfig.cmake, -ConfigVersion, orderflowTargets*.cmake
#   P/share/orderflow/proto-schemas/    the JSON Schemas of the events (orderflow_SCHEMAS_DIR)
# so that find_package(orderflow) gives orderflow::events, ::messaging, ::runtime and ::version. Tests,
# benchmarks, the test helpers and the service-internal libraries (*_core, dlq_tool, dev_broker) are not
# installed. tests/install checks the layout by building a small project against it.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(ORDERFLOW_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/orderflow)
set(ORDERFLOW_INSTALL_SCHEMASDIR ${CMAKE_INSTALL_DATADIR}/orderflow/proto-schemas)

# orderflow::events parses with rules compiled into the library and never reads these files; they are
# installed as the reference of the record formats for whoever produces or consumes the topics.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto-schemas/ DESTINATION ${ORDERFLOW_INSTALL_SCHEMASDIR}
  FILES_MATCHING PATTERN "*.json")

install(EXPORT orderflowTargets NAMESPACE orderflow:: DESTINATION ${ORDERFLOW_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/orderflowConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/orderflowConfig.cmake
  INSTALL_DESTINATION ${ORDERFLOW_INSTALL_CMAKEDIR}
  PATH_VARS ORDERFLOW_INSTALL_SCHEMASDIR)
# 0.x: a minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/orderflowConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/orderflowConfig.cmake
              ${PROJECT_BINARY_DIR}/package/orderflowConfigVersion.cmake
        DESTINATION ${ORDERFLOW_INSTALL_CMAKEDIR})

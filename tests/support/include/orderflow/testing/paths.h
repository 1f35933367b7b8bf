// Where test inputs live: built binaries ($ORDERFLOW_BIN_DIR, set by CTest through orderflow_test),
// the source tree ($ORDERFLOW_SOURCE_DIR), and fresh scratch directories.
// Functions throw std::runtime_error when the variable is unset or a directory cannot be made.
#pragma once

#include <string>
#include <string_view>

namespace orderflow::testing {

std::string bin_path(std::string_view name);         // $ORDERFLOW_BIN_DIR/name
std::string source_path(std::string_view rel);       // $ORDERFLOW_SOURCE_DIR/rel
std::string make_temp_dir(std::string_view prefix);  // a new, empty directory under $TMPDIR or /tmp
// A random lower-case hex string of `length` characters (group ids, unique names).
std::string random_hex(std::size_t length = 12);

}  // namespace orderflow::testing

#include "orderflow/messaging/log_fields.h"

#include <nlohmann/json.hpp>

namespace orderflow::messaging {

std::string log_fields(std::initializer_list<std::pair<std::string_view, FieldValue>> fields) {
  if (fields.size() == 0) return {};
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, value] : fields) {
    auto& slot = j[std::string(name)];
    switch (value.kind()) {
      case FieldValue::Kind::String:
        slot = std::string(value.str());
        break;
      case FieldValue::Kind::Signed:
        slot = value.i();
        break;
      case FieldValue::Kind::Unsigned:
        slot = value.u();
        break;
      case FieldValue::Kind::Double:
        slot = value.d();
        break;
      case FieldValue::Kind::Bool:
        slot = value.u() != 0;
        break;
    }
  }
  return "\t" + j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace orderflow::messaging

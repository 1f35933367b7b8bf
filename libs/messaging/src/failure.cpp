#include "orderflow/messaging/failure.h"

namespace orderflow::messaging {

std::string_view to_string(ErrorClass c) {
  switch (c) {
    case ErrorClass::Poison:
      return "poison";
    case ErrorClass::Transient:
      return "transient";
    case ErrorClass::Exhausted:
      return "exhausted";
  }
  return "transient";
}

}  // namespace orderflow::messaging

// One SAX pass over a record: checks the document-level rules (one JSON object, no duplicate keys, bounded
// depth, nothing after it) and captures the top-level fields (and OrderCreated items) for the rules.
// No DOM is built; members the contract does not name are skipped at every level (still checked for
// duplicate keys and depth) and not kept.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/events/types.h"
#include "rules.h"

namespace orderflow::events::detail {

inline constexpr std::size_t kMaxTopLevelFields = 12;

// The top-level fields of one event type; the index of a name is the index of its captured Field.
struct Layout {
  std::span<const std::string_view> fields;
  int items_index = -1;  // the field holding OrderCreated items, -1 when none
};

struct Captured {
  std::array<Field, kMaxTopLevelFields> fields;
  std::optional<ValidationError> document_error;  // "$": not JSON, not an object, duplicate key, too deep
  // OrderCreated items (Layout::items_index >= 0 and the field is an array).
  std::size_t item_count = 0;
  std::vector<Item> items;                    // the first kMaxItems items, valid ones only
  std::optional<ValidationError> item_error;  // first error of an item, in index order
};

// Runs the SAX pass. `out` must be default-constructed.
void capture(std::string_view bytes, const Layout& layout, Captured& out);

}  // namespace orderflow::events::detail

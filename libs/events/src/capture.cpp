#include "capture.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "json_reader.h"
#include "orderflow/events/codec.h"
#include "text.h"

namespace orderflow::events::detail {
namespace {

constexpr std::array<std::string_view, 3> kItemFields = {"sku", "quantity", "unit_price_cents"};
constexpr std::size_t kMaxQuotedKeyBytes = 64;  // of a duplicate key, in its error message

// Receives the reader's events and keeps only what the rules need; everything else is skipped while still
// checked for duplicate keys. A member the contract does not name is skipped the same way at every level
// (top level, inside an item, inside a skipped subtree): forward compatibility, so a producer may add a
// field without breaking any consumer. Nothing of it is kept, so to_json never writes it back.
class Capturer {
 public:
  Capturer(const Layout& layout, Captured& out) : layout_(layout), out_(out) {}

  // --- JsonReader handler interface ------------------------------------------------------------------
  bool null() {
    if (ignored()) return true;
    Field f;
    f.kind = Kind::Null;
    return scalar(std::move(f));
  }
  bool boolean(bool value) {
    if (ignored()) return true;
    Field f;
    f.kind = Kind::Bool;
    f.text = value ? "true" : "false";
    return scalar(std::move(f));
  }
  bool number_integer(std::int64_t value) {
    if (ignored()) return true;
    Field f;
    f.kind = Kind::Integer;
    f.integer = value;
    return scalar(std::move(f));
  }
  bool number_unsigned(std::uint64_t value) {
    if (ignored()) return true;
    Field f;
    f.kind = Kind::BigInteger;  // the reader only reports unsigned values that do not fit int64
    f.text = std::to_string(value);
    return scalar(std::move(f));
  }
  bool number_float(double value, std::string_view token) {
    if (ignored()) return true;
    Field f;
    // JSON Schema 2020-12 counts 1.0 and 1e2 as integers: so do we, within int64 (see README).
    constexpr double kTwo63 = 9223372036854775808.0;
    const bool integral = std::isfinite(value) && std::trunc(value) == value;
    const bool integer_literal = token.find_first_of(".eE") == std::string_view::npos;
    if (integral && !integer_literal && value >= -kTwo63 && value < kTwo63) {
      f.kind = Kind::Integer;
      f.integer = static_cast<std::int64_t>(value);
    } else {
      f.kind = integer_literal || integral || !std::isfinite(value) ? Kind::BigInteger : Kind::Float;
      f.text = token;
    }
    return scalar(std::move(f));
  }
  bool string(std::string_view value) {
    if (ignored()) return true;
    if (target_ != nullptr) {
      target_->kind = Kind::String;
      target_->text.assign(value);
      target_ = nullptr;
      return true;
    }
    Field f;
    f.kind = Kind::String;
    f.text = value;  // only for an error message
    return scalar(std::move(f));
  }
  bool start_object() { return open(true); }
  bool start_array() { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string_view key) {
    switch (where_) {
      case Where::Top:
        return top_key(key);
      case Where::Item:
        return item_key(key);
      case Where::Skip:
        return skip_key(key);
      case Where::Root:
      case Where::Items:
      case Where::Done:
        break;
    }
    return true;
  }
  void syntax_error(std::size_t offset, std::string_view what) {
    out_.document_error =
        error("$", "not valid JSON at byte " + std::to_string(offset) + ": " + std::string(what));
  }
  void too_deep() { fail("nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels"); }

 private:
  enum class Where : std::uint8_t { Root, Top, Items, Item, Skip, Done };

  // A scalar nobody reads: the value of an unknown member, or one inside a skipped subtree. Returning before
  // a Field is built keeps skipping free of copies and number formatting, whatever the value's type.
  bool ignored() const noexcept {
    switch (where_) {
      case Where::Top:
      case Where::Item:
        return target_ == nullptr;
      case Where::Skip:
      case Where::Done:
        return true;
      case Where::Root:
      case Where::Items:
        break;
    }
    return false;
  }

  bool fail(std::string reason) {
    out_.document_error = error("$", std::move(reason));
    return false;
  }

  bool scalar(Field&& value) {
    switch (where_) {
      case Where::Root:
        // Keep reading: a syntax error after the value wins over "not an object".
        out_.document_error = error("$", "must be a JSON object, got " + describe(value));
        where_ = Where::Done;
        return true;
      case Where::Top:
      case Where::Item:
        if (target_ != nullptr) {
          *target_ = std::move(value);
          target_ = nullptr;
        }
        return true;
      case Where::Items:
        item_not_object(value);
        return true;
      case Where::Skip:
      case Where::Done:
        return true;
    }
    return true;
  }

  bool open(bool object) {
    switch (where_) {
      case Where::Root:
        if (object) {
          where_ = Where::Top;
          return true;
        }
        out_.document_error = error("$", "must be a JSON object, got an array");
        return skip(object, Where::Done);
      case Where::Top:
        if (target_ != nullptr && layout_.items_index >= 0 &&
            target_ == &out_.fields[static_cast<std::size_t>(layout_.items_index)] && !object) {
          target_->kind = Kind::Array;
          target_ = nullptr;
          out_.items.reserve(4);
          where_ = Where::Items;
          return true;
        }
        return container_value(object, Where::Top);
      case Where::Items:
        if (object) {
          start_item();
          return true;
        }
        {
          Field f;
          f.kind = Kind::Array;
          item_not_object(f);
        }
        return skip(object, Where::Items);
      case Where::Item:
        return container_value(object, Where::Item);
      case Where::Skip:
        ++skip_depth_;
        open_kinds_.push_back(object);
        if (object) skip_keys_.emplace_back();
        return true;
      case Where::Done:
        return true;
    }
    return true;
  }

  bool close() {
    switch (where_) {
      case Where::Skip:
        if (open_kinds_.back()) skip_keys_.pop_back();
        open_kinds_.pop_back();
        if (--skip_depth_ == 0) where_ = skip_back_;
        return true;
      case Where::Item:
        end_item();
        where_ = Where::Items;
        return true;
      case Where::Items:
        where_ = Where::Top;
        return true;
      case Where::Top:
        where_ = Where::Done;
        return true;
      case Where::Root:
      case Where::Done:
        return true;
    }
    return true;
  }

  // A field whose value is an object or array: record the kind, skip the contents.
  bool container_value(bool object, Where back) {
    if (target_ != nullptr) {
      target_->kind = object ? Kind::Object : Kind::Array;
      target_ = nullptr;
    }
    return skip(object, back);
  }

  bool skip(bool object, Where back) {
    where_ = Where::Skip;
    skip_back_ = back;
    skip_depth_ = 1;
    open_kinds_.assign(1, object);
    skip_keys_.clear();
    if (object) skip_keys_.emplace_back();
    return true;
  }

  bool skip_key(std::string_view key) {
    auto& keys = skip_keys_.back();
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return duplicate(key);
    keys.emplace_back(key);
    return true;
  }

  bool duplicate(std::string_view key) {
    std::string quoted;
    append_json_string(quoted, key.substr(0, kMaxQuotedKeyBytes));
    return fail("duplicate key " + quoted);
  }

  bool top_key(std::string_view key) {
    for (std::size_t i = 0; i < layout_.fields.size(); ++i) {
      if (layout_.fields[i] == key) {
        const auto bit = std::uint32_t{1} << i;
        if ((seen_ & bit) != 0) return duplicate(key);
        seen_ |= bit;
        target_ = &out_.fields[i];
        return true;
      }
    }
    // Not named by the contract: ignored, but a duplicate is still a document error.
    if (std::find(unknown_keys_.begin(), unknown_keys_.end(), key) != unknown_keys_.end())
      return duplicate(key);
    unknown_keys_.emplace_back(key);
    target_ = nullptr;
    return true;
  }

  void start_item() {
    where_ = Where::Item;
    for (Field& f : item_) f.kind = Kind::Missing;
    item_seen_ = 0;
    item_unknown_keys_.clear();
  }

  bool item_key(std::string_view key) {
    for (std::size_t i = 0; i < kItemFields.size(); ++i) {
      if (kItemFields[i] == key) {
        const auto bit = std::uint32_t{1} << i;
        if ((item_seen_ & bit) != 0) return duplicate(key);
        item_seen_ |= bit;
        target_ = &item_[i];
        return true;
      }
    }
    // Not named by the contract: ignored, as at the top level.
    if (std::find(item_unknown_keys_.begin(), item_unknown_keys_.end(), key) != item_unknown_keys_.end()) {
      return duplicate(key);
    }
    item_unknown_keys_.emplace_back(key);
    target_ = nullptr;
    return true;
  }

  void end_item() {
    const std::size_t index = out_.item_count++;
    if (out_.item_error || index >= kMaxItems) return;  // the result is an error anyway
    Item item;
    // Paths are only built when something is wrong.
    Check e;
    if (item_[0].kind != Kind::String) {
      e = take_string(item_[0], item_path(index, "sku"), item.sku);
    } else if (item_[1].kind != Kind::Integer) {
      e = take_integer(item_[1], item_path(index, "quantity"), item.quantity);
    } else if (item_[2].kind != Kind::Integer) {
      e = take_integer(item_[2], item_path(index, "unit_price_cents"), item.unit_price_cents);
    } else {
      item.sku = std::move(item_[0].text);
      item.quantity = item_[1].integer;
      item.unit_price_cents = item_[2].integer;
      e = rule_item(index, item);
    }
    if (e) {
      out_.item_error = std::move(e);
      return;
    }
    out_.items.push_back(std::move(item));
  }

  void item_not_object(const Field& value) {
    const std::size_t index = out_.item_count++;
    if (out_.item_error || index >= kMaxItems) return;
    out_.item_error = error(item_path(index, ""), "must be an object, got " + describe(value));
  }

  const Layout& layout_;
  Captured& out_;
  Where where_ = Where::Root;
  Field* target_ = nullptr;  // where the value of the current known key goes
  std::uint32_t seen_ = 0;   // known top-level keys seen, one bit per Layout index
  std::vector<std::string> unknown_keys_;
  // The current item.
  std::array<Field, 3> item_;
  std::uint32_t item_seen_ = 0;
  std::vector<std::string> item_unknown_keys_;
  // The skipped subtree.
  Where skip_back_ = Where::Done;
  int skip_depth_ = 0;
  std::vector<bool> open_kinds_;                     // true = object
  std::vector<std::vector<std::string>> skip_keys_;  // keys of each open object, innermost last
};

}  // namespace

void capture(std::string_view bytes, const Layout& layout, Captured& out) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    out.document_error = error("$", "not valid JSON at byte 0: a byte order mark is not allowed");
    return;
  }
  Capturer capturer(layout, out);
  JsonReader<Capturer, kMaxNestingDepth> reader(bytes, capturer);
  reader.run();
}

}  // namespace orderflow::events::detail

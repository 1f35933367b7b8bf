// TypedHandler (handler.h): the stage's prepare() parses once and process() hands that event to handle();
// a parse failure is returned by prepare() and nothing is handled; process() without a parsed record is a
// transient failure, never a handle() of the previous record's event. RecordView::header finds the last one.
#include "orderflow/messaging/handler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "orderflow/messaging/testing/test_record.h"

namespace {

namespace msg = orderflow::messaging;
using orderflow::testing::TestRecord;

// Events are integers; a value that is not a number is poison.
class Counting final : public msg::TypedHandler<int> {
 public:
  Parsed parse(const msg::RecordView& record) override {
    ++parses;
    try {
      return std::stoi(std::string(record.value));
    } catch (const std::exception&) {
      return msg::Failure::poison("$: not a number");
    }
  }
  msg::HandlerResult handle(const int& event, const msg::RecordView& record) override {
    handled.push_back(event);
    msg::HandlerResult r;
    r.outputs.push_back(msg::OutRecord{
        "out", std::nullopt, std::to_string(event * 2) + "@" + std::to_string(record.attempt), {}});
    return r;
  }
  int parses = 0;
  std::vector<int> handled;
};

TEST(TypedHandlerTest, EachRecordIsParsedOnceAndItsEventHandled) {
  Counting h;
  TestRecord a("in", "21");
  TestRecord b("in", "5");
  b.retried("in", 3);
  msg::RecordHandler& stage_side = h;
  ASSERT_FALSE(stage_side.prepare(a.view()).has_value());
  auto r = stage_side.process(a.view());
  ASSERT_FALSE(r.failure.has_value());
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_EQ(r.outputs[0].value, "42@1");
  ASSERT_FALSE(stage_side.prepare(b.view()).has_value());
  EXPECT_EQ(stage_side.process(b.view()).outputs.at(0).value, "10@3");
  EXPECT_EQ(h.parses, 2);
  EXPECT_EQ(h.handled, (std::vector<int>{21, 5}));
}

TEST(TypedHandlerTest, AParseFailureIsReturnedAndNothingIsHandled) {
  Counting h;
  TestRecord good("in", "1");
  TestRecord bad("in", "x");
  ASSERT_FALSE(h.prepare(good.view()).has_value());
  const auto failure = h.prepare(bad.view());  // e.g. a record queued behind its key: only checked
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->error_class, msg::ErrorClass::Poison);
  EXPECT_EQ(failure->message, "$: not a number");
  const auto r = h.process(bad.view());
  ASSERT_TRUE(r.failure.has_value()) << "the good record's event is not handled in the bad one's place";
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Transient);
  EXPECT_TRUE(h.handled.empty());
}

TEST(TypedHandlerTest, AnEventIsHandledOnlyOnce) {
  Counting h;
  TestRecord a("in", "7");
  ASSERT_FALSE(h.prepare(a.view()).has_value());
  EXPECT_FALSE(h.process(a.view()).failure.has_value());
  EXPECT_TRUE(h.process(a.view()).failure.has_value()) << "process() again without prepare()";
  EXPECT_EQ(h.handled, (std::vector<int>{7}));
}

TEST(RecordViewTest, HeaderIsTheLastWithTheName) {
  TestRecord r("in", "v", "k", {{"a", "1"}, {"b", "2"}, {"a", "3"}});
  const auto v = r.view();
  EXPECT_EQ(v.header("a"), "3");
  EXPECT_EQ(v.header("b"), "2");
  EXPECT_EQ(v.header("c"), std::nullopt);
  EXPECT_EQ(v.key, "k");
  EXPECT_EQ(v.source_topic, "in");
  EXPECT_EQ(v.headers.size(), 3U);
}

}  // namespace

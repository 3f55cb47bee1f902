#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

namespace rf::engine {
namespace {

TEST(StopMatcher, PassesTextWithoutStops) {
    StopMatcher m({});
    EXPECT_EQ(m.push("hello").text, "hello");
    EXPECT_FALSE(m.push(" world").stopped);
}

TEST(StopMatcher, FindsAStopSplitAcrossPieces) {
    StopMatcher m({"<END>"});
    auto a = m.push("abc<E");
    EXPECT_EQ(a.text, "abc");  // "<E" is held back
    EXPECT_FALSE(a.stopped);
    auto b = m.push("N");
    EXPECT_EQ(b.text, "");
    auto c = m.push("D>tail");
    EXPECT_TRUE(c.stopped);
    EXPECT_EQ(c.text, "");
}

TEST(StopMatcher, ReleasesHeldTextThatTurnsOutNotToBeAStop) {
    StopMatcher m({"\n\n"});
    EXPECT_EQ(m.push("line\n").text, "line");
    EXPECT_EQ(m.push("next").text, "\nnext");
    EXPECT_EQ(m.push("end\n").text, "end");
    EXPECT_EQ(m.flush(), "\n");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    StopMatcher m({"world", "lo w"});
    auto out = m.push("hello world");
    EXPECT_TRUE(out.stopped);
    EXPECT_EQ(out.text, "hel");
}

}  // namespace
}  // namespace rf::engine

// The GBNF text form: what it accepts, what it matches, and the errors it gives (with positions).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/matcher.h"

namespace rf::grammar {
namespace {

std::shared_ptr<const Grammar> compile(std::string_view text) {
    auto g = parse_gbnf(text);
    EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
    return g.ok() ? std::make_shared<const Grammar>(std::move(*g)) : nullptr;
}

// Whole-text match: every byte accepted and the grammar complete at the end.
bool matches(const std::shared_ptr<const Grammar>& g, std::string_view text) {
    Matcher m(g);
    return m.accept(text) && m.complete();
}

std::string error_of(std::string_view text) {
    auto g = parse_gbnf(text);
    return g.ok() ? std::string("(parsed)") : g.error().message;
}

TEST(Gbnf, LiteralsAlternativesAndSequences) {
    auto g = compile(R"(root ::= "ab" | "c" d
d ::= "x" "y")");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "ab"));
    EXPECT_TRUE(matches(g, "cxy"));
    EXPECT_FALSE(matches(g, "a"));
    EXPECT_FALSE(matches(g, "abc"));
    EXPECT_FALSE(matches(g, "cx"));
    EXPECT_FALSE(matches(g, ""));
}

TEST(Gbnf, RepetitionsOfEveryKind) {
    auto g = compile(R"(root ::= "a"* "b"+ "c"? "d"{2} "e"{1,2} "f"{2,} "g"{,1} ";")");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "bddeff;"));
    EXPECT_TRUE(matches(g, "aaabbbcddeefffg;"));
    EXPECT_FALSE(matches(g, "ddeff;"));    // b+ needs one
    EXPECT_FALSE(matches(g, "bdeff;"));    // d{2}
    EXPECT_FALSE(matches(g, "bddeeeff;")); // e{1,2}
    EXPECT_FALSE(matches(g, "bddef;"));    // f{2,}
    EXPECT_FALSE(matches(g, "bddeffgg;")); // g{,1}
}

TEST(Gbnf, GroupsAndRepeatedGroups) {
    auto g = compile(R"(root ::= "[" (item ("," item)*)? "]"
item ::= ("x" | "yz"){1,3})");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "[]"));
    EXPECT_TRUE(matches(g, "[x,yzx,xxx]"));
    EXPECT_FALSE(matches(g, "[xxxx]"));
    EXPECT_FALSE(matches(g, "[x,]"));
    EXPECT_FALSE(matches(g, "[y]"));
}

TEST(Gbnf, CharacterClassesRangesNegationAndAny) {
    auto g = compile(R"(root ::= [a-c0-9_] [^a-z\]] . [\x41-\x43] [é-ë])");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "a!zBé"));
    EXPECT_TRUE(matches(g, "_Z→Cë"));
    EXPECT_FALSE(matches(g, "dZzBé"));   // d outside [a-c0-9_]
    EXPECT_FALSE(matches(g, "aqzBé"));   // q in the negated class
    EXPECT_FALSE(matches(g, "a]zBé"));   // \] in the negated class
    EXPECT_FALSE(matches(g, "a!zDé"));
    EXPECT_FALSE(matches(g, "a!zBè"));
}

TEST(Gbnf, EscapesInLiterals) {
    auto g = compile(R"(root ::= "\"\\\n\t\x41\u00e9\U0001F600")");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "\"\\\n\tAé\xF0\x9F\x98\x80"));
    EXPECT_FALSE(matches(g, "\"\\\n\tAe\xF0\x9F\x98\x80"));
}

TEST(Gbnf, CommentsAndMultiLineRules) {
    auto g = compile(R"(# a comment line
root ::=   # after ::=
    "a"
  | "b" # trailing
  | (
      "c"
      "d"
    )
other ::= "unused")");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "a"));
    EXPECT_TRUE(matches(g, "b"));
    EXPECT_TRUE(matches(g, "cd"));
    EXPECT_FALSE(matches(g, "c"));
}

TEST(Gbnf, RecursionThroughRules) {
    auto g = compile(R"(root ::= value
value ::= "[" (value ("," value)*)? "]" | "1")");
    ASSERT_TRUE(g);
    EXPECT_TRUE(matches(g, "[[1,[]],[[[1]]]]"));
    EXPECT_FALSE(matches(g, "[[1,[]],[[[1]]]"));
}

TEST(Gbnf, LongRepetitionsKeepTheStateSmall) {
    // Right recursion of x* must not grow the stacks with the text.
    auto g = compile(R"(root ::= "a"* "b")");
    ASSERT_TRUE(g);
    Matcher m(g);
    ASSERT_TRUE(m.accept(std::string(10000, 'a')));
    const size_t frames = m.mark();
    ASSERT_TRUE(m.accept(std::string(10000, 'a')));
    EXPECT_EQ(m.mark(), frames);
    EXPECT_FALSE(m.complete());
    ASSERT_TRUE(m.accept("b"));
    EXPECT_TRUE(m.complete());
    EXPECT_FALSE(m.can_continue());
}

TEST(Gbnf, RejectedTextLeavesTheStateAsItWas) {
    auto g = compile(R"(root ::= "abc" | "abd")");
    ASSERT_TRUE(g);
    Matcher m(g);
    ASSERT_TRUE(m.accept("ab"));
    EXPECT_FALSE(m.accept("x"));
    EXPECT_FALSE(m.accept("cz"));
    EXPECT_TRUE(m.accept("d"));
    EXPECT_TRUE(m.complete());
}

TEST(Gbnf, MultiByteCharactersMayArriveInPieces) {
    auto g = compile(R"(root ::= [à-ÿ]+)");
    ASSERT_TRUE(g);
    Matcher m(g);
    const std::string text = "éü";  // C3 A9 C3 BC
    EXPECT_TRUE(m.accept(text.substr(0, 1)));
    EXPECT_FALSE(m.complete());  // mid-character
    EXPECT_TRUE(m.accept(text.substr(1, 2)));
    EXPECT_TRUE(m.accept(text.substr(3)));
    EXPECT_TRUE(m.complete());
    EXPECT_FALSE(m.accept("\xC3\x80"));      // À is outside the class
    EXPECT_FALSE(m.accept("\xC0\x80"));      // overlong form of NUL
    EXPECT_FALSE(m.accept("\xA9"));          // a continuation byte without a lead
}

TEST(Gbnf, InvalidUtf8IsNeverAccepted) {
    auto g = compile(R"(root ::= .*)");
    ASSERT_TRUE(g);
    for (std::string bad : {"\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xC1\xBF"}) {
        Matcher m(g);
        EXPECT_FALSE(m.accept(bad) && m.complete()) << bad.size();
    }
    Matcher m(g);
    EXPECT_TRUE(m.accept("\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF"));  // U+D7FF U+E000 U+10FFFF
}

TEST(Gbnf, ErrorsNameTheProblemAndWhereItIs) {
    EXPECT_EQ(error_of("root ::= \"a\"\nfoo = \"b\""), "grammar: expected '::=' after rule name 'foo' at line 2, column 5");
    EXPECT_EQ(error_of("root ::= \"abc"), "grammar: unterminated string literal at line 1, column 10");
    EXPECT_EQ(error_of("root ::= [a-"), "grammar: unterminated character class at line 1, column 10");
    EXPECT_EQ(error_of("root ::= (\"a\" | \"b\""), "grammar: expected ')' at line 1, column 20");
    EXPECT_EQ(error_of("root ::= \"a\"\n  x ::= y"), "grammar: rule 'y' is used at line 2, column 9 but never defined");
    EXPECT_EQ(error_of("other ::= \"a\""), "grammar: the grammar has no 'root' rule");
    EXPECT_EQ(error_of("root ::= * \"a\""), "grammar: '*' has nothing to repeat at line 1, column 10");
    EXPECT_EQ(error_of("root ::= \"\\q\""), "grammar: unknown escape '\\q' at line 1, column 11");
    EXPECT_EQ(error_of("root ::= [z-a]"), "grammar: character range with its ends the wrong way round at line 1, column 14");
    EXPECT_EQ(error_of("root ::= \"a\"{3,1}"), "grammar: repetition {3,1} has its bounds the wrong way round at line 1, column 13");
    EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\""), "grammar: rule 'root' is defined twice at line 2, column 1");
    EXPECT_EQ(error_of("root ::= \"a\"{1000000}").substr(0, 46), "grammar: repetition up to 100001 times is too ");
    EXPECT_NE(error_of("root ::= <think>").find("token references"), std::string::npos);
}

TEST(Gbnf, HostileSizesAreErrorsNotCrashes) {
    EXPECT_NE(error_of(fmt::format("root ::= {}\"a\"{}", std::string(100000, '('), std::string(100000, ')')))
                  .find("nested more than"),
              std::string::npos);
    std::string many = "root ::= x0\n";
    for (int i = 0; i < 20; ++i) many += fmt::format("x{} ::= \"a\"{{100000}}\n", i);
    EXPECT_NE(error_of(many).find("more than 1000000 elements"), std::string::npos);
    // A chain of 30000 rules, each starting with the next: expanded without recursion.
    std::string chain;
    for (int i = 0; i < 30000; ++i) chain += fmt::format("{} ::= r{} \"b\"\n", i == 0 ? "root" : fmt::format("r{}", i), i + 1);
    chain += "r30000 ::= \"a\"\n";
    auto g = compile(chain);
    ASSERT_TRUE(g);
    Matcher m(g);
    EXPECT_TRUE(m.accept(fmt::format("a{}", std::string(30000, 'b'))));
    EXPECT_TRUE(m.complete());
}

TEST(Gbnf, LeftRecursionIsAnErrorNotAHang) {
    EXPECT_NE(error_of("root ::= root \"a\" | \"b\"").find("rule 'root' can reach itself"), std::string::npos);
    EXPECT_NE(error_of("root ::= x\nx ::= y \"a\"\ny ::= \"\" | x").find("can reach itself"), std::string::npos);
    EXPECT_NE(error_of("root ::= (\"a\"?)*").find("can reach itself"), std::string::npos);
}

}  // namespace
}  // namespace rf::grammar

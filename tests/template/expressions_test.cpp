// Expressions: literals, operators with Python semantics, access, slicing, calls and methods.
#include <gtest/gtest.h>

#include "render_helper.h"

namespace rf::tmpl::test {
namespace {

using J = nlohmann::ordered_json;

TEST(TemplateExpressions, ArithmeticFollowsPython) {
    EXPECT_EQ(text("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|"
                   "{{ 2 ** 10 }}|{{ 2 ** -1 }}"),
              "7|9|3|-4|1|2|3.5|1024|0.5");
    EXPECT_EQ(text("{{ 1.5 + 1 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ 3.0 }}|{{ 10 / 5 }}|{{ 1/3 }}"),
              "2.5|0.30000000000000004|1e+20|1e-05|3.0|2.0|0.3333333333333333");
    EXPECT_EQ(text("{{ -2 ** 2 }}|{{ 10 // 3 * 3 + 10 % 3 }}|{{ 'ab' * 3 }}|{{ 3 * 'ab' }}|{{ [0] * 3 }}"),
              "4|10|ababab|ababab|[0, 0, 0]");
}

TEST(TemplateExpressions, LiteralsPrintLikePython) {
    EXPECT_EQ(text("{{ [1, 'a', none, true, 1.5] }}|{{ {'a': 1, 'b': [1, 'x']} }}|{{ (1, 2) }}|{{ (1,) }}|{{ () }}"),
              "[1, 'a', None, True, 1.5]|{'a': 1, 'b': [1, 'x']}|(1, 2)|(1,)|()");
    EXPECT_EQ(text("{{ ['it\\'s', 'say \"hi\"'] }}|{{ 'a' 'b' }}|{{ 'ab\\u00e9\\x41\\t|' }}"),
              "[\"it's\", 'say \"hi\"']|ab|abéA\t|");
    EXPECT_EQ(text("{{ none }}|{{ None }}|{{ true }}|{{ True }}|{{ false }}|{{ [1,2,3,][1] }}|{{ {'a':1,}.a }}"),
              "None|None|True|True|False|2|1");
}

TEST(TemplateExpressions, ConcatenationAndComparison) {
    EXPECT_EQ(text("{{ 'a' ~ 1 ~ none ~ true }}|{{ 'abc' ~ (1 + 2) }}|{{ [1,2] + [3] }}"), "a1NoneTrue|abc3|[1, 2, 3]");
    // `~` binds tighter than `+`, as in the reference grammar.
    EXPECT_NE(text("{{ 'abc' ~ 1 + 2 }}").find("can only concatenate"), std::string::npos);
    EXPECT_EQ(text("{{ 1 == 1.0 }}|{{ 'a' < 'b' }}|{{ [1,2] < [1,3] }}|{{ true == 1 }}|{{ none == false }}|"
                   "{{ {'a': 1} == {'a': 1} }}"),
              "True|True|True|True|False|True");
    EXPECT_EQ(text("{{ 'a' in 'cat' }}|{{ 2 not in [1,2] }}|{{ 'k' in {'k': 1} }}|{{ 1 in [1.0] }}|{{ 'x' in undefined }}"),
              "True|False|True|True|False");
}

TEST(TemplateExpressions, LogicReturnsOperands) {
    EXPECT_EQ(text("{{ x if x else 'no' }}|{{ 'yes' if true }}|{{ 'no' if false }}|{{ y or 'fallback' }}|{{ 0 and 1 }}|"
                   "{{ not none }}|{{ 5 > 3 and 'yes' or 'no' }}",
                   J{{"x", ""}}),
              "no|yes||fallback|0|True|yes");
    EXPECT_EQ(text("{{ not x is defined }}|{{ -x | abs }}|{{ x is defined and x > 2 }}", J{{"x", -3}}), "False|3|False");
}

TEST(TemplateExpressions, AttributeItemAndSlice) {
    J vars = {{"d", {{"a", {{"b", J::array({1, 2})}}}}}, {"s", "héllo"}};
    EXPECT_EQ(text("{{ d.a.b[1] }}{{ d['a']['b'][0] }}{{ d.a.b | length }}{{ d.a.b[-1] }}", vars), "2122");
    EXPECT_EQ(text("{{ s[1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s[-2:] }}|{{ [1,2,3,4,5][1::2] }}|{{ [1,2,3][5:] }}|"
                   "{{ [1,2,3,4][:-1] }}|{{ [1,2,3,4][-1:0:-1] }}",
                   vars),
              "é|él|olléh|lo|[2, 4]|[]|[1, 2, 3]|[4, 3, 2]");
    EXPECT_EQ(text("{{ d.missing }}|{{ d.missing is defined }}|{{ [1][3] }}|{{ none.attr }}", vars), "|False||");
}

TEST(TemplateExpressions, StringMethods) {
    EXPECT_EQ(text("{{ 'Hello World'.lower() }}|{{ ' x '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'Hello'.lstrip('H') }}|"
                   "{{ 'x\\n'.rstrip() }}|{{ '\\u3000x\\u00a0'.strip() }}"),
              "hello world|x|hi|ello|x|x");
    EXPECT_EQ(text("{{ 'a,b,,c'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'a-b-c'.rsplit('-', 1) }}|"
                   "{{ '  a b c  '.split(none, 1) }}|{{ '  a b c  '.rsplit(none, 1) }}|{{ ''.split() }}"),
              "['a', 'b', '', 'c']|['a', 'b', 'c']|['a-b', 'c']|['a', 'b c  ']|['  a b', 'c']|[]");
    EXPECT_EQ(text("{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x','c')) }}|{{ 'hello'.replace('l', 'L', 1) }}|"
                   "{{ 'hello'.find('l') }}|{{ 'a{}b{}'.format(1, 2) }}|{{ '-'.join(['a','b']) }}|"
                   "{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aaa'.count('a') }}|{{ 'ÄÖ'.lower() }}"),
              "True|True|heLlo|2|a1b2|a-b|Hello World|Hello|3|äö");
    EXPECT_EQ(text("{{ '%s-%d' % ('a', 3) }}"), "a-3");
}

TEST(TemplateExpressions, DictAndListMethods) {
    EXPECT_EQ(text("{% set d = {'b': 2, 'a': 1} %}{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.values() | list }}|"
                   "{{ d.get('a') }}|{{ d.get('z', 'def') }}|{{ d.get('z') }}|{{ d['b'] }}|{{ d.b }}"),
              "[('b', 2), ('a', 1)]|['b', 'a']|[2, 1]|1|def|None|2|2");
    EXPECT_EQ(text("{% set l = [3, 1] %}{% set _ = l.append(2) %}{{ l }}|{{ l.pop() }}|{{ l }}|{{ l.index(1) }}|"
                   "{{ l.count(3) }}"),
              "[3, 1, 2]|2|[3, 1]|1|1");
}

TEST(TemplateExpressions, NonStringDictKeysActLikePython) {
    EXPECT_EQ(text("{{ {1: 'a', 'b': 2} }}|{{ {1: 'a'}[1] }}|{{ {1: 'a'} | tojson }}|{{ {1: 'x'}[1.0] }}|{{ {true: 1}[1] }}|"
                   "{{ {0: 0, 512: 128} | dictsort }}|{% for k in {2: 'x'} %}{{ k + 1 }}{% endfor %}|{{ 2 in {2: 'x'} }}|"
                   "{{ '2' in {2: 'x'} }}|{{ {none: 1} | tojson }}|{{ {'1': 'x'}.get(1, 'n') }}"),
              "{1: 'a', 'b': 2}|a|{\"1\": \"a\"}|x|1|[(0, 0), (512, 128)]|3|True|False|{\"null\": 1}|n");
}

TEST(TemplateExpressions, GlobalFunctions) {
    EXPECT_EQ(text("{{ range(3) | list }}|{{ range(1, 10, 3) | list }}|{{ range(5, 0, -2) | list }}|{{ dict(a=1, b=2) }}|"
                   "{{ namespace(a=1).a }}"),
              "[0, 1, 2]|[1, 4, 7]|[5, 3, 1]|{'a': 1, 'b': 2}|1");
    RenderOptions options;
    options.clock = [] {
        using namespace std::chrono;
        return system_clock::time_point(sys_days{year{2026} / November / 25} + hours{12} + minutes{34});
    };
    auto r = render("{{ strftime_now('%Y-%m-%d %H:%M') }}|{{ strftime_now('%d %B %Y') }}", J::object(), options);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, "2026-11-25 12:34|25 November 2026");
}

}  // namespace
}  // namespace rf::tmpl::test

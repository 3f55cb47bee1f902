// Statements: loops, conditionals, assignment scoping, macros, call/filter blocks, whitespace control.
#include <gtest/gtest.h>

#include "render_helper.h"

namespace rf::tmpl::test {
namespace {

using J = nlohmann::ordered_json;

TEST(TemplateStatements, LoopVariables) {
    EXPECT_EQ(text("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}"
                   "{{ loop.cycle('a','b') }};{% endfor %}"),
              "1032TrueFalse32a;2121FalseFalse313b;3210FalseTrue32a;");
    EXPECT_EQ(text("{% for a in [[1, 2], [3, 4]] %}{% for b in a %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}"),
              "11221;13242;");
}

TEST(TemplateStatements, LoopElseFilterUnpackingAndControls) {
    EXPECT_EQ(text("{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in [1,2,3,4,5] if x is odd %}{{ x }}{{ loop.index }}"
                   "{% endfor %}|{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}|"
                   "{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}"
                   "{{ x }}{% endfor %}|{% for x in [1,2] if false %}no{% else %}else{% endfor %}"),
              "empty|113253|a=1,b=2,|13|else");
    EXPECT_EQ(text("{% for x in 'ab' %}{{ x }}{% endfor %}|{% for k in {'x':1,'y':2} %}{{ k }}{% endfor %}|"
                   "{% for (a, b) in [(1, 2)] %}{{ a }}{{ b }}{% endfor %}|{% for x in undefined_name %}x{% endfor %}"),
              "ab|xy|12|");
}

TEST(TemplateStatements, IfElifElse) {
    EXPECT_EQ(text("{% if false %}a{% elif 0 %}b{% elif 'x' %}c{% else %}d{% endif %}|{% if none %}1{% else %}2{% endif %}"),
              "c|2");
}

TEST(TemplateStatements, SetScopingAndNamespace) {
    EXPECT_EQ(text("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}|"
                   "{% if true %}{% set z = 3 %}{% endif %}{{ z }}"),
              "21|3");
    // Each iteration starts from the enclosing scope again.
    EXPECT_EQ(text("{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"), "12121");
    EXPECT_EQ(text("{% set ns = namespace(c=0) %}{% for i in range(5) %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}|"
                   "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set blk %}hi {{ a }}{% endset %}[{{ blk }}]|"
                   "{% set t | upper %}up{% endset %}{{ t }}"),
              "10|12|[hi 1]|UP");
    EXPECT_NE(text("{% set d = {} %}{% set d.x = 1 %}").find("non-namespace"), std::string::npos);
}

TEST(TemplateStatements, MacrosCallAndFilterBlocks) {
    EXPECT_EQ(text("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }}|"
                   "{{ greet('Bo', greeting='Hi') }}|{{ greet(name='Cy') }}"),
              "Hello, Ann!|Hi, Bo!|Hello, Cy!");
    EXPECT_EQ(text("{% macro m(a, b=a ~ '!') %}{{ b }}{% endmacro %}{{ m('x') }}|"
                   "{% macro outer() %}{% macro inner() %}I{% endmacro %}O{{ inner() }}{% endmacro %}{{ outer() }}"),
              "x!|OI");
    EXPECT_EQ(text("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}|"
                   "{% macro each(items) %}{% for i in items %}<{{ caller(i) }}>{% endfor %}{% endmacro %}"
                   "{% call(item) each([1, 2]) %}#{{ item }}{% endcall %}|{% filter upper %}shout {{ 1 }}{% endfilter %}"),
              "<inner>|<#1><#2>|SHOUT 1");
}

TEST(TemplateWhitespace, TrimAndLstripBlocks) {
    EXPECT_EQ(text("{% for m in msgs %}\n    {% if m.role == 'user' %}\n        U: {{ m.content }}\n    {% else %}\n"
                   "        A: {{ m.content }}\n    {% endif %}\n{% endfor %}\n",
                   J{{"msgs", J::array({{{"role", "user"}, {"content", "hi"}}, {{"role", "bot"}, {"content", "yo"}}})}}),
              "        U: hi\n        A: yo\n");
    EXPECT_EQ(text("  {{ 'v' }}  \n  {% if true %}x{% endif %}  \n{% for i in [1,2] %}\n  - {{ i }}\n{% endfor %}\nend"),
              "  v  \nx  \n  - 1\n  - 2\nend");
}

TEST(TemplateWhitespace, ExplicitMarkersCommentsAndRaw) {
    EXPECT_EQ(text("a\n  {% if true %}\n  b\n  {% endif %}\nc\n{# comment #}\nd {{- ' e ' -}} f\n{%- if true +%}\ng{% endif %}\n"
                   "  {%+ if true %}h{% endif %}"),
              "a\n  b\nc\nd e f\ng  h");
    EXPECT_EQ(text("{% raw %}{{ not evaluated }}{% endraw %}|{{ '{{' }}|x {#- c -#} y"), "{{ not evaluated }}|{{|xy");
    EXPECT_EQ(text("{%- for x in [1, 2] -%}\n  [{{ x }}]\n{%- endfor %}\n  tail  \n"), "[1][2]  tail  ");
    EXPECT_EQ(text("{{- 'a' -}}\n\n  {{- 'b' }}  {{ 'c' -}}  \n  d"), "ab  cd");
}

TEST(TemplateWhitespace, OptionsCanBeTurnedOff) {
    LexOptions plain;
    plain.trim_blocks = false;
    plain.lstrip_blocks = false;
    plain.keep_trailing_newline = true;
    auto tmpl = Template::parse("  {% if true %}\nx\n  {% endif %}\n", plain);
    ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
    auto out = tmpl->render(Object{});
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, "  \nx\n  \n");
}

}  // namespace
}  // namespace rf::tmpl::test

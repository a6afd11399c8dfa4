// The SVG chart library: escaping, nice ticks, SI prefixes, and charts that are well-formed XML
// whatever text they are given.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "report/svg.hpp"
#include "xml_check.hpp"

namespace {

using namespace jb::svg;

size_t count(const std::string & haystack, const std::string & needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

TEST(Svg, escape_replaces_the_five_xml_special_characters) {
    EXPECT_EQ(escape("<a href=\"x\">Tom & Jerry's</a>"),
              "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    EXPECT_EQ(escape("&amp;"), "&amp;amp;");  // already-escaped text is escaped again, not trusted
    EXPECT_EQ(escape("plain text"), "plain text");
    EXPECT_EQ(escape("µJ · ±"), "µJ · ±");  // UTF-8 passes through
    EXPECT_EQ(escape(std::string("a\x01" "b\tc\n", 6)), "a b\tc\n");  // XML 1.0 forbids most controls
}

TEST(Svg, nice_number_rounds_to_1_2_5_times_a_power_of_ten) {
    EXPECT_DOUBLE_EQ(nice_number(97, false), 100);
    EXPECT_DOUBLE_EQ(nice_number(0.13, true), 0.1);
    EXPECT_DOUBLE_EQ(nice_number(2.9, true), 2);
    EXPECT_DOUBLE_EQ(nice_number(3.0, true), 5);
    EXPECT_DOUBLE_EQ(nice_number(7.1, true), 10);
    EXPECT_DOUBLE_EQ(nice_number(1.2, false), 2);
    EXPECT_DOUBLE_EQ(nice_number(4000, false), 5000);
    EXPECT_THROW(nice_number(0, true), std::invalid_argument);
    EXPECT_THROW(nice_number(-1, true), std::invalid_argument);
}

TEST(Svg, nice_ticks_cover_the_range_with_round_steps) {
    Ticks t = nice_ticks(0, 97);
    EXPECT_DOUBLE_EQ(t.lo, 0);
    EXPECT_DOUBLE_EQ(t.hi, 100);
    EXPECT_DOUBLE_EQ(t.step, 20);
    ASSERT_EQ(t.values.size(), 6u);
    for (size_t i = 0; i < t.values.size(); ++i) EXPECT_DOUBLE_EQ(t.values[i], 20.0 * double(i));

    t = nice_ticks(0.013, 0.87);
    EXPECT_DOUBLE_EQ(t.step, 0.2);
    EXPECT_DOUBLE_EQ(t.lo, 0);
    EXPECT_NEAR(t.hi, 1.0, 1e-12);
    ASSERT_EQ(t.values.size(), 6u);
    EXPECT_EQ(format_tick(t.values[3], t.step), "0.6");  // 0.6000000000000001 shows as 0.6

    t = nice_ticks(-3.2, 7.5);
    EXPECT_DOUBLE_EQ(t.step, 5);
    EXPECT_DOUBLE_EQ(t.lo, -5);
    EXPECT_DOUBLE_EQ(t.hi, 10);
    ASSERT_EQ(t.values.size(), 4u);
    EXPECT_EQ(t.values[1], 0.0);
    EXPECT_FALSE(std::signbit(t.values[1]));  // no -0 at the origin

    t = nice_ticks(7.5, -3.2);  // reversed
    EXPECT_DOUBLE_EQ(t.lo, -5);

    // A range exactly on step boundaries is not widened by floating-point error.
    t = nice_ticks(0.1, 0.3, 3);
    EXPECT_NEAR(t.lo, 0.1, 1e-12);
    EXPECT_NEAR(t.hi, 0.3, 1e-12);
}

TEST(Svg, nice_ticks_widen_a_single_value_and_reject_non_finite) {
    Ticks t = nice_ticks(5, 5);
    EXPECT_LT(t.lo, 5);
    EXPECT_GT(t.hi, 5);
    EXPECT_GT(t.step, 0);
    t = nice_ticks(0, 0);
    EXPECT_DOUBLE_EQ(t.lo, 0);
    EXPECT_DOUBLE_EQ(t.hi, 1);
    for (size_t i = 1; i < t.values.size(); ++i) EXPECT_GT(t.values[i], t.values[i - 1]);
    EXPECT_THROW(nice_ticks(0, NAN), std::invalid_argument);
    EXPECT_THROW(nice_ticks(-INFINITY, 1), std::invalid_argument);
}

TEST(Svg, log_ticks_use_decades_or_1_2_5) {
    Ticks t = log_ticks(3, 450);  // three decades: decades only
    ASSERT_EQ(t.values.size(), 4u);
    EXPECT_NEAR(t.values[0], 1, 1e-12);
    EXPECT_NEAR(t.values[3], 1000, 1e-9);
    EXPECT_EQ(t.step, 0);

    t = log_ticks(0.02, 0.3);  // under three decades: 1, 2, 5
    const double want[] = {0.02, 0.05, 0.1, 0.2, 0.5};
    ASSERT_EQ(t.values.size(), std::size(want));
    for (size_t i = 0; i < std::size(want); ++i) EXPECT_NEAR(t.values[i], want[i], want[i] * 1e-9);
    EXPECT_NEAR(t.lo, 0.02, 1e-12);
    EXPECT_NEAR(t.hi, 0.5, 1e-12);
    EXPECT_THROW(log_ticks(0, 1), std::invalid_argument);
}

TEST(Svg, format_tick_shows_the_digits_the_step_needs) {
    EXPECT_EQ(format_tick(0.30000000000000004, 0.1), "0.3");
    EXPECT_EQ(format_tick(1500, 500), "1500");
    EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
    EXPECT_EQ(format_tick(-0.0, 1), "0");
    EXPECT_EQ(format_tick(-1e-17, 0.1), "0.0");
    EXPECT_EQ(format_tick(-5, 5), "-5");
    EXPECT_EQ(format_tick(0.002, 0), "0.002");  // log axes
}

TEST(Svg, si_scale_keeps_one_to_three_digits) {
    EXPECT_EQ(si_scale(8).prefix, "");
    EXPECT_DOUBLE_EQ(si_scale(8).factor, 1);
    EXPECT_EQ(si_scale(0.25).prefix, "m");
    EXPECT_DOUBLE_EQ(si_scale(0.25).factor, 1e3);
    EXPECT_EQ(si_scale(0.00042).prefix, "\u00b5");
    EXPECT_EQ(si_scale(1500).prefix, "k");
    EXPECT_EQ(si_scale(1).prefix, "");
    EXPECT_EQ(si_scale(0).prefix, "");
    EXPECT_EQ(si_scale(NAN).prefix, "");
}

XyChart nasty_xy() {
    XyChart c;
    c.id = "chart-\"x\"";
    c.title = "Power <&> \"quotes\" 'apostrophes'";
    c.subtitle = "</svg><script>alert(1)</script>";
    c.x = {"Time", "s", false, false, true, std::nullopt, std::nullopt, 6, 0.0};
    c.y = {"Power", "W", false, true, true, std::nullopt, std::nullopt, 6, 0.0};
    c.bands = {{0.0, 1.0, "prefill <1>", "#0072B2", 0.15}, {1.0, 2.0, "decode & co", "#E69F00", 0.2},
               {2.0, 3.0, "prefill <1>", "#0072B2", 0.15}};
    Series line;
    line.name = "gpu<0>";
    line.x = {0, 0.5, 1, NAN, 2, 3};
    line.y = {100, 120, 300, 300, 250, 90};
    line.line = true;
    line.step = true;
    line.markers = false;
    line.css_class = "power-series";
    Series pts;
    pts.name = "schemes & \"friends\"";
    pts.x = {0.5, 1.5, 2.5};
    pts.y = {150, 200, 50};
    pts.labels = {"fp16", "<int8>", ""};
    pts.tips = {"a & b", "c", "d"};
    pts.hollow = true;
    c.series = {line, pts};
    return c;
}

TEST(Svg, xy_chart_is_well_formed_xml_with_everything_escaped) {
    const std::string svg = render(nasty_xy());
    EXPECT_EQ(jb_test::xml_error(svg), "") << svg;
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    EXPECT_NE(svg.find("id=\"chart-&quot;x&quot;\""), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_NE(svg.find("&lt;int8&gt;"), std::string::npos);
    EXPECT_NE(svg.find("Power &lt;&amp;&gt; &quot;quotes&quot; &#39;apostrophes&#39;"), std::string::npos);
    EXPECT_EQ(count(svg, "class=\"band\""), 3u);
    EXPECT_EQ(count(svg, "prefill &lt;1&gt;</text>"), 1u);  // one legend entry per band label
    EXPECT_EQ(count(svg, "<circle"), 3u + 1u);  // three points and their legend swatch (the line has a line)
    EXPECT_EQ(count(svg, "class=\"point-label\""), 2u);  // the empty label is skipped
    EXPECT_EQ(count(svg, "<polyline"), 2u);   // the NaN breaks the line in two
    EXPECT_NE(svg.find("Power (W)"), std::string::npos);
    EXPECT_NE(svg.find("class=\"series power-series\""), std::string::npos);
}

TEST(Svg, step_lines_hold_each_value_until_the_next_sample) {
    XyChart c;
    c.id = "s";
    c.x = {"x", "", false, false, false, 0.0, 10.0, 6, 0.0};
    c.y = {"y", "", false, false, false, 0.0, 10.0, 6, 0.0};
    Series s;
    s.x = {0, 5, 10};
    s.y = {10, 0, 10};
    s.line = true;
    s.step = true;
    s.markers = false;
    c.series = {s};
    const std::string svg = render(c);
    const size_t p = svg.find("<polyline points=\"");
    ASSERT_NE(p, std::string::npos);
    const std::string points = svg.substr(p + 18, svg.find('"', p + 18) - p - 18);
    // Five vertices: (0,10) (5,10) (5,0) (10,0) (10,10); the y of the 2nd equals the 1st's.
    EXPECT_EQ(count(points, ","), 5u) << points;
}

TEST(Svg, frontier_staircase_reaches_the_axis_and_the_frame) {
    XyChart c;
    c.id = "f";
    Series s;
    s.x = {5};
    s.y = {50};
    s.line = true;
    s.step = true;
    s.frontier = true;
    s.markers = false;
    c.series = {s};
    const std::string svg = render(c);
    const size_t p = svg.find("<polyline points=\"");
    ASSERT_NE(p, std::string::npos) << "one point still draws the region it dominates";
    const std::string points = svg.substr(p + 18, svg.find('"', p + 18) - p - 18);
    EXPECT_GE(count(points, ","), 3u) << points;  // up from the axis, the point, across to the frame
}

TEST(Svg, bar_chart_is_well_formed_and_marks_missing_values) {
    BarChart c;
    c.id = "bars";
    c.title = "EOR & TWEOR";
    c.categories = {"fp16", "int8 <fast>", "a very long category name that cannot possibly fit under one bar"};
    c.series = {{"EOR", "#0072B2", {100, 150, NAN}, {5, 0, 0}, {"ref", "+50 %", ""}, {}},
                {"TWEOR", "#E69F00", {100, -20, 30}, {}, {"ref", "\u221220 %", "x"}, {"", "#ff0000", ""}}};
    c.y = {"Efficiency", "%/Wh", false, false, true, std::nullopt, std::nullopt, 6, 0.0};
    c.x_label = "scheme";
    const std::string svg = render(c);
    EXPECT_EQ(jb_test::xml_error(svg), "") << svg;
    EXPECT_EQ(count(svg, "class=\"bar\""), 5u);
    EXPECT_EQ(count(svg, "class=\"na\""), 1u);
    EXPECT_EQ(count(svg, "class=\"error-bar\""), 1u);  // a zero error draws nothing
    EXPECT_NE(svg.find("int8 &lt;fast&gt;"), std::string::npos);
    EXPECT_NE(svg.find("fill=\"#ff0000\""), std::string::npos);  // per-bar colour
    EXPECT_NE(svg.find("\u2026"), std::string::npos);             // the long name is shortened...
    EXPECT_NE(svg.find("<title>a very long category name"), std::string::npos);  // ...and whole on hover
    EXPECT_NE(svg.find(">-50<"), std::string::npos);  // the axis reaches below zero for the negative bar
}

TEST(Svg, si_prefixed_axis_rescales_values_and_unit) {
    BarChart c;
    c.id = "jt";
    c.categories = {"a", "b"};
    c.series = {{"x", "#000000", {0.0004, 0.0002}, {}, {}, {}}};
    c.y = {"Prefill", "J/token", false, true, true, std::nullopt, std::nullopt, 6, 0.0};
    const std::string svg = render(c);
    EXPECT_NE(svg.find("Prefill (\u00b5J/token)"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">400<"), std::string::npos);
}

TEST(Svg, empty_charts_still_render_axes) {
    XyChart c;
    c.id = "empty";
    EXPECT_EQ(jb_test::xml_error(render(c)), "");
    BarChart b;
    b.id = "empty-bars";
    EXPECT_EQ(jb_test::xml_error(render(b)), "");
    XyChart lg;
    lg.id = "log";
    lg.x.log = true;
    Series s;
    s.x = {0.001, 0.1, -1, 0};  // the non-positive ones cannot be drawn on a log axis
    s.y = {1, 2, 3, 4};
    lg.series = {s};
    const std::string svg = render(lg);
    EXPECT_EQ(jb_test::xml_error(svg), "");
    EXPECT_EQ(count(svg, "<circle"), 2u);
}

TEST(XmlCheck, accepts_well_formed_and_rejects_broken_documents) {
    using jb_test::xml_error;
    EXPECT_EQ(xml_error("<!DOCTYPE html>\n<a x=\"1\" y='2'><b/>t &amp; &#233; &#x1F600;<!-- c --></a>\n"), "");
    EXPECT_NE(xml_error("<a><b></a></b>"), "");
    EXPECT_NE(xml_error("<a>"), "");
    EXPECT_NE(xml_error("<a x=1></a>"), "");
    EXPECT_NE(xml_error("<a x=\"1\" x=\"2\"></a>"), "");
    EXPECT_NE(xml_error("<a x=\"<\"></a>"), "");
    EXPECT_NE(xml_error("<a>&nbsp;</a>"), "");
    EXPECT_NE(xml_error("<a>AT&T</a>"), "");
    EXPECT_NE(xml_error("<a>1 < 2</a>"), "");
    EXPECT_NE(xml_error("<a></a><b></b>"), "");
    EXPECT_NE(xml_error("text<a></a>"), "");
    EXPECT_NE(xml_error("<a checked></a>"), "");
    EXPECT_NE(xml_error("<a>\xff</a>"), "");
    EXPECT_NE(xml_error("<a><!-- a -- b --></a>"), "");
    EXPECT_NE(xml_error("<a>&#0;</a>"), "");
    EXPECT_NE(xml_error("<br>"), "");
}

}  // namespace

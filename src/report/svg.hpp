#pragma once
// A small SVG chart library for the HTML report: axes with nice ticks and units, scatter, line
// and step series, shaded x intervals, grouped bars with error bars, a legend. Output is plain
// SVG 1.1 text with presentation attributes inline (no CSS, no scripts, no external
// references), well-formed XML, so a chart renders the same inline in HTML, on its own, and
// in print. Tooltips are SVG <title> elements (the browser shows them on hover, no script).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jb::svg {

// Escapes the five XML special characters (& < > " ') for text and attribute values alike.
std::string escape(std::string_view text);

// Heckbert's "nice numbers" (Graphics Gems, 1990): 1, 2, 5 or 10 times a power of ten, the
// nearest (round) or the next larger (!round).
double nice_number(double x, bool round);

struct Ticks {
    double lo = 0.0, hi = 1.0;   // axis range: the data's range widened to whole steps
    double step = 0.0;           // linear axes; 0 on a log axis
    std::vector<double> values;  // tick positions, ascending, lo and hi included (linear)
};

// Linear ticks for [lo, hi], about max_ticks of them. A zero-width or empty range is widened
// (around the value, or to [0, 1]) so an axis always has a range; NaN and infinities throw.
Ticks nice_ticks(double lo, double hi, int max_ticks = 6);
// Log10 ticks for [lo, hi], lo > 0: decades, with 2 and 5 between them when the range spans
// fewer than three decades (else the ticks would be too sparse to read).
Ticks log_ticks(double lo, double hi);
// A tick's text with as many decimals as the step needs (no "0.30000000000000004", no "-0").
std::string format_tick(double value, double step);

// An SI prefix that keeps an axis's numbers short: the largest value gets 1 to 3 digits before
// the point (0.00042 J -> 420 µJ, 1500 Wh -> 1.5 kWh).
struct SiScale {
    double factor = 1.0;  // multiply values by this
    std::string prefix;   // "", "k", "M", "m", "µ", "n"
};
SiScale si_scale(double max_abs);

struct Axis {
    std::string label;                // "Energy"
    std::string unit;                 // "Wh": shown as "Energy (Wh)"
    bool log = false;                 // log10 scale (values <= 0 are left out)
    bool si_prefix = false;           // rescale the unit with an SI prefix (mWh, kJ)
    bool include_zero = false;        // linear: the range includes 0 (bars, power)
    std::optional<double> min, max;   // force the range's ends (before nice rounding)
    int max_ticks = 6;
    double pad = 0.0;                 // linear: widen the data's range by this fraction each side,
                                      // so points do not sit on the frame
    // si_prefix: choose the prefix for this magnitude instead of the chart's own largest value, so
    // that charts side by side show one unit (J/token beside J/token, not mJ/token).
    std::optional<double> si_basis = std::nullopt;
};

// A series of (x, y) points drawn as markers, a polyline or a step line (held until the next
// sample, as a sampled power reading is).
struct Series {
    std::string name;    // legend entry; empty: not in the legend
    std::string color = "#0072B2";
    std::vector<double> x, y;
    std::vector<std::string> labels;  // optional text beside each point (empty strings skipped)
    std::vector<std::string> tips;    // optional hover text per point
    // Optional ± half-widths per point, drawn as error bars with caps (NaN or 0: none); the axes
    // widen to hold them.
    std::vector<double> x_err, y_err;
    bool markers = true;
    bool hollow = false;  // markers drawn as rings (off-frontier points)
    bool line = false;
    bool step = false;    // with line: horizontal then vertical
    bool frontier = false;  // with step: a Pareto staircase (minimise x, maximise y), drawn from
                            // the x axis to the first point and from the last point to the frame
    bool dashed = false;
    double line_width = 1.5;
    double marker_r = 4.5;
    std::string css_class;  // class of the series' <g>, for tests and styling hooks
};

// A shaded interval of the x axis (a run's phases).
struct Band {
    double x0 = 0.0, x1 = 0.0;
    std::string label;  // legend entry, once per label; also the hover text
    std::string color = "#999999";
    double opacity = 0.15;
};

struct XyChart {
    std::string id;        // the <svg>'s id (unique in the page)
    std::string title;
    std::string subtitle;  // one line under the title
    Axis x, y;
    std::vector<Band> bands;
    std::vector<Series> series;
    int width = 640, height = 400;  // viewBox size; the page scales it
};

struct BarSeries {
    std::string name;  // legend entry
    std::string color = "#0072B2";
    std::vector<double> values;       // one per category; NaN: no bar ("n/a")
    std::vector<double> errors;       // optional ± half-widths, one per category
    std::vector<std::string> labels;  // optional text above each bar
    std::vector<std::string> colors;  // optional colour per bar (one series coloured by category)
};

// Bars grouped by category: one bar per series in each category.
struct BarChart {
    std::string id;
    std::string title;
    std::string subtitle;
    std::vector<std::string> categories;
    std::vector<BarSeries> series;
    Axis y;  // include_zero is implied: bars grow from 0
    std::string x_label;
    bool legend = true;  // off when the categories already name the bars
    int width = 640, height = 360;
};

std::string render(const XyChart & chart);
std::string render(const BarChart & chart);

// A colour-blind-safe palette (Okabe & Ito, 2008, with black swapped for grey and two more).
const std::vector<std::string> & palette();

}  // namespace jb::svg

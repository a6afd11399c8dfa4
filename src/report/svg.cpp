#include "report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace jb::svg {

namespace {

constexpr const char * kFontStack =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'Noto Sans', 'Liberation Sans', Arial, "
    "sans-serif";
constexpr const char * kInk = "#1f2328";       // text
constexpr const char * kMuted = "#57606a";     // subtitles, tick labels
constexpr const char * kGrid = "#e4e7eb";
constexpr const char * kAxis = "#6e7781";

// Layout constants, in viewBox units (CSS pixels at 100 %).
constexpr double kTitleSize = 15.0;
constexpr double kTextSize = 12.0;
constexpr double kSmallSize = 11.0;
constexpr double kLegendRow = 18.0;

std::string num(double v) {
    // One decimal is a tenth of a pixel: enough, and keeps a 2000-point polyline small.
    std::string s = fmt::format("{:.1f}", v);
    if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
    if (s == "-0") s = "0";
    return s;
}

// Approximate rendered width of text: code points x an average glyph advance (0.58 em fits
// the system sans-serif fonts within ~10 %, enough to lay out legends and margins).
double text_width(std::string_view s, double size) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return double(n) * size * 0.58;
}

// Shortens text to fit `width`, ending it with an ellipsis.
std::string fit_text(const std::string & s, double width, double size) {
    if (text_width(s, size) <= width) return s;
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if ((c & 0xC0) != 0x80 && text_width(out + "\u2026", size) + size * 0.58 > width) break;
        out += s[i];
    }
    // Do not leave a partial UTF-8 sequence before the ellipsis.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
    return out + "\u2026";
}

std::string axis_title(const Axis & a, const std::string & prefix) {
    if (a.unit.empty()) return a.label;
    return fmt::format("{} ({}{})", a.label, prefix, a.unit);
}

// Maps data values to pixels along one axis.
struct Scale {
    Ticks ticks;
    bool log = false;
    double p0 = 0.0, p1 = 1.0;  // pixel positions of ticks.lo and ticks.hi

    double operator()(double v) const {
        double f;
        if (log) {
            f = (std::log10(v) - std::log10(ticks.lo)) / (std::log10(ticks.hi) - std::log10(ticks.lo));
        } else {
            f = (v - ticks.lo) / (ticks.hi - ticks.lo);
        }
        f = std::clamp(f, -0.02, 1.02);  // data outside a forced range sticks to the edge
        return p0 + f * (p1 - p0);
    }
    bool usable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// The range an axis shows for data in [lo, hi] (NaN when there is no data).
Ticks axis_ticks(const Axis & a, double lo, double hi, double factor) {
    if (a.min) lo = *a.min * factor;
    if (a.max) hi = *a.max * factor;
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = a.log ? 1.0 : 0.0;
        hi = a.log ? 10.0 : 1.0;
    }
    if (a.log) return log_ticks(lo, hi);
    if (a.pad > 0 && hi > lo) {
        const double pad = (hi - lo) * a.pad;
        // Padding never pushes a non-negative range below zero (no "-20 %" score axis).
        if (!a.min) lo = lo >= 0 ? std::max(0.0, lo - pad) : lo - pad;
        if (!a.max) hi += pad;
    }
    if (a.include_zero) {
        lo = std::min(lo, 0.0);
        hi = std::max(hi, 0.0);
    }
    Ticks t = nice_ticks(lo, hi, a.max_ticks);
    // A forced end stays where it was put (100 % is 100 %, not 120 %).
    if (a.min && *a.min * factor > t.lo) t.lo = *a.min * factor;
    if (a.max && *a.max * factor < t.hi) t.hi = *a.max * factor;
    std::erase_if(t.values, [&](double v) { return v < t.lo - 1e-9 * t.step || v > t.hi + 1e-9 * t.step; });
    return t;
}

std::string open_svg(const std::string & id, int width, int height, const std::string & title) {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"jb-chart\" id=\"{0}\" viewBox=\"0 0 {1} {2}\" "
        "width=\"{1}\" height=\"{2}\" role=\"img\" aria-labelledby=\"{0}-title\" font-family=\"{3}\" "
        "font-size=\"{4}\" fill=\"{5}\">\n<title id=\"{0}-title\">{6}</title>\n"
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{1}\" height=\"{2}\" fill=\"#ffffff\"/>\n",
        escape(id), width, height, kFontStack, num(kTextSize), kInk, escape(title));
}

// Title and subtitle; returns the y below them.
double draw_heading(std::string & out, const std::string & title, const std::string & subtitle, int width) {
    double y = 8.0;
    if (!title.empty()) {
        y += kTitleSize + 2;
        // Bold glyphs run about 10 % wider than the estimate for regular text.
        out += fmt::format("<text class=\"chart-title\" x=\"12\" y=\"{}\" font-size=\"{}\" font-weight=\"600\">{}</text>\n",
                           num(y), num(kTitleSize), escape(fit_text(title, width - 24, kTitleSize * 1.1)));
    }
    if (!subtitle.empty()) {
        y += kTextSize + 5;
        out += fmt::format("<text class=\"chart-subtitle\" x=\"12\" y=\"{}\" fill=\"{}\">{}</text>\n", num(y), kMuted,
                           escape(fit_text(subtitle, width - 24, kTextSize)));
    }
    return y + 6;
}

struct LegendItem {
    std::string label;
    std::string color;
    enum Kind { dot, ring, line, dashed, box } kind = dot;
    double opacity = 1.0;
};

// Lays legend items out left to right, wrapping; returns the y below the legend.
double draw_legend(std::string & out, const std::vector<LegendItem> & items, double y, int width) {
    if (items.empty()) return y;
    out += "<g class=\"legend\">\n";
    double x = 12.0;
    y += kLegendRow / 2 + 2;
    for (const auto & it : items) {
        const double w = 22.0 + text_width(it.label, kSmallSize) + 14.0;
        if (x > 12.0 && x + w > width - 8) {
            x = 12.0;
            y += kLegendRow;
        }
        out += "<g class=\"legend-item\">";
        switch (it.kind) {
            case LegendItem::dot:
                out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{}\"/>", num(x + 8), num(y), escape(it.color));
                break;
            case LegendItem::ring:
                out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#ffffff\" stroke=\"{}\" stroke-width=\"2\"/>",
                                   num(x + 8), num(y), escape(it.color));
                break;
            case LegendItem::line:
            case LegendItem::dashed:
                out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>",
                                   num(x), num(y), num(x + 16), num(y), escape(it.color),
                                   it.kind == LegendItem::dashed ? " stroke-dasharray=\"4 3\"" : "");
                break;
            case LegendItem::box:
                out += fmt::format(
                    "<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"11\" fill=\"{}\" fill-opacity=\"{}\" stroke=\"{}\" "
                    "stroke-opacity=\"0.5\"/>",
                    num(x), num(y - 5.5), escape(it.color), num(it.opacity), escape(it.color));
                break;
        }
        out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\">{}</text></g>\n", num(x + 22), num(y + 4),
                           num(kSmallSize), escape(it.label));
        x += w;
    }
    out += "</g>\n";
    return y + kLegendRow / 2 + 4;
}

// Horizontal grid lines and y tick labels; returns the widest label.
double y_tick_labels_width(const Ticks & t) {
    double w = 0.0;
    for (double v : t.values) w = std::max(w, text_width(format_tick(v, t.step), kSmallSize));
    return w;
}

void draw_y_axis(std::string & out, const Scale & ys, double left, double right, const std::string & title) {
    out += "<g class=\"axis y-axis\">\n";
    for (double v : ys.ticks.values) {
        const double py = ys(v);
        out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>", num(left),
                           num(py), num(right), num(py), kGrid);
        out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"{}\" fill=\"{}\">{}</text>\n",
                           num(left - 6), num(py + 4), num(kSmallSize), kMuted, escape(format_tick(v, ys.ticks.step)));
    }
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n", num(left),
                       num(ys.p0), num(left), num(ys.p1), kAxis);
    const double mid = (ys.p0 + ys.p1) / 2;
    out += fmt::format(
        "<text class=\"axis-title\" x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>\n",
        num(mid), num(mid), escape(title));
    out += "</g>\n";
}

void draw_x_axis(std::string & out, const Scale & xs, double bottom, const std::string & title) {
    out += "<g class=\"axis x-axis\">\n";
    for (double v : xs.ticks.values) {
        const double px = xs(v);
        out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>", num(px),
                           num(bottom), num(px), num(bottom + 4), kAxis);
        out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" fill=\"{}\">{}</text>\n",
                           num(px), num(bottom + 16), num(kSmallSize), kMuted, escape(format_tick(v, xs.ticks.step)));
    }
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n", num(xs.p0),
                       num(bottom), num(xs.p1), num(bottom), kAxis);
    out += fmt::format("<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       num((xs.p0 + xs.p1) / 2), num(bottom + 34), escape(title));
    out += "</g>\n";
}

struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box & o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

// Places point labels beside their points without overlapping each other or the points:
// right of the point, else left, else nudged down or up, in that order of preference.
void draw_point_labels(std::string & out, const std::vector<std::pair<double, double>> & points,
                       const std::vector<std::string> & labels, double left, double right, double top, double bottom,
                       std::vector<Box> & taken) {
    for (size_t i = 0; i < points.size() && i < labels.size(); ++i) {
        if (labels[i].empty()) continue;
        const auto [px, py] = points[i];
        // Generous: a label that collides because its font runs wide is worse than one placed
        // a little further out.
        const double w = text_width(labels[i], kSmallSize) * 1.12;
        const double h = kSmallSize + 2;
        bool placed = false;
        bool left_side = false;
        Box best{};
        for (double dy : {0.0, 12.0, -12.0, 24.0, -24.0}) {
            for (int side = 0; side < 2 && !placed; ++side) {
                const double x0 = side == 0 ? px + 8 : px - 9 - w;
                const Box b{x0, py + dy - h / 2 - 1, x0 + w, py + dy + h / 2 - 1};
                if (b.x0 < left || b.x1 > right || b.y0 < top || b.y1 > bottom) continue;
                bool clear = true;
                for (const auto & t : taken) clear = clear && !b.overlaps(t);
                if (clear) {
                    best = b;
                    placed = true;
                    left_side = side == 1;
                }
            }
            if (placed) break;
        }
        if (!placed) {  // crowded: right of the point anyway, kept inside the plot
            const double x0 = std::min(px + 7, right - w);
            best = Box{x0, py - h / 2 - 1, x0 + w, py + h / 2 - 1};
        }
        taken.push_back(best);
        // A label left of its point is anchored at its end, so a font wider than the estimate
        // grows away from the marker rather than into it.
        out += fmt::format("<text class=\"point-label\" x=\"{}\" y=\"{}\" font-size=\"{}\"{}>{}</text>\n",
                           num(left_side ? best.x1 : best.x0), num(best.y1 - 2), num(kSmallSize),
                           left_side ? " text-anchor=\"end\"" : "", escape(labels[i]));
    }
}

}  // namespace

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
                    out += ' ';
                } else {
                    out += c;
                }
        }
    }
    return out;
}

double nice_number(double x, bool round) {
    if (!(x > 0) || !std::isfinite(x)) throw std::invalid_argument("nice_number: need a positive finite value");
    const double exponent = std::floor(std::log10(x));
    const double p = std::pow(10.0, exponent);
    const double f = x / p;  // in [1, 10)
    double nice;
    if (round) {
        nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    } else {
        nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    }
    return nice * p;
}

Ticks nice_ticks(double lo, double hi, int max_ticks) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) throw std::invalid_argument("nice_ticks: non-finite range");
    if (lo > hi) std::swap(lo, hi);
    if (hi == lo) {
        // One value: a range around it (10 % each side), or [0, 1] around zero.
        const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
        lo = lo == 0 ? 0.0 : lo - pad;
        hi = hi + pad;
    }
    max_ticks = std::max(max_ticks, 2);
    const double range = nice_number(hi - lo, false);
    const double step = nice_number(range / (max_ticks - 1), true);
    Ticks t;
    t.step = step;
    // The small tolerance keeps 0.30000000000000004 / 0.1 from reaching up to a fourth step.
    t.lo = std::floor(lo / step + 1e-9) * step;
    t.hi = std::ceil(hi / step - 1e-9) * step;
    const long n = std::lround((t.hi - t.lo) / step);
    for (long i = 0; i <= n; ++i) {
        double v = t.lo + double(i) * step;
        if (std::abs(v) < step * 1e-9) v = 0.0;  // no -0 and no 1e-17 at the origin
        t.values.push_back(v);
    }
    return t;
}

Ticks log_ticks(double lo, double hi) {
    if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) {
        throw std::invalid_argument("log_ticks: need a positive finite range");
    }
    if (lo > hi) std::swap(lo, hi);
    if (lo == hi) {
        lo /= 2;
        hi *= 2;
    }
    const int d0 = int(std::floor(std::log10(lo) + 1e-9));
    int d1 = int(std::ceil(std::log10(hi) - 1e-9));
    if (d1 <= d0) d1 = d0 + 1;
    Ticks t;
    t.step = 0.0;
    std::vector<double> candidates;
    const bool fine = d1 - d0 < 3;
    for (int d = d0; d <= d1; ++d) {
        const double p = std::pow(10.0, d);
        candidates.push_back(p);
        if (fine && d < d1) {
            candidates.push_back(2 * p);
            candidates.push_back(5 * p);
        }
    }
    const double eps = 1e-9;
    t.lo = candidates.front();
    for (double c : candidates) {
        if (c <= lo * (1 + eps)) t.lo = c;
    }
    t.hi = candidates.back();
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
        if (*it >= hi * (1 - eps)) t.hi = *it;
    }
    for (double c : candidates) {
        if (c >= t.lo * (1 - eps) && c <= t.hi * (1 + eps)) t.values.push_back(c);
    }
    return t;
}

std::string format_tick(double value, double step) {
    std::string s;
    if (step > 0) {
        const int decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
        s = fmt::format("{:.{}f}", value, decimals);
    } else {
        s = fmt::format("{:.4g}", value);
    }
    // "-0", "-0.00": a zero has no sign.
    if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
    return s;
}

SiScale si_scale(double max_abs) {
    if (!std::isfinite(max_abs) || max_abs <= 0) return {};
    static const struct {
        int exponent;
        const char * prefix;
    } prefixes[] = {{9, "G"}, {6, "M"}, {3, "k"}, {0, ""}, {-3, "m"}, {-6, "\u00b5"}, {-9, "n"}};
    for (const auto & p : prefixes) {
        // 1 <= max_abs / 10^exponent: the largest value shows with 1 to 3 digits before the point.
        if (max_abs >= std::pow(10.0, p.exponent) * (1 - 1e-12)) return {std::pow(10.0, -p.exponent), p.prefix};
    }
    return {1e9, "n"};
}

const std::vector<std::string> & palette() {
    static const std::vector<std::string> colors = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                                                    "#56B4E9", "#8C6D31", "#7F7F7F", "#332288", "#117733"};
    return colors;
}

std::string render(const XyChart & c) {
    // Data ranges (after SI scaling, so ticks fall on round numbers of the shown unit).
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    auto widen = [](double v, bool log, double & lo, double & hi) {
        if (!std::isfinite(v) || (log && v <= 0)) return;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    };
    auto err = [](const std::vector<double> & e, size_t i) {
        return i < e.size() && std::isfinite(e[i]) ? std::abs(e[i]) : 0.0;
    };
    for (const auto & s : c.series) {
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            const double ex = err(s.x_err, i), ey = err(s.y_err, i);
            widen(s.x[i] - ex, c.x.log, x_lo, x_hi);
            widen(s.x[i] + ex, c.x.log, x_lo, x_hi);
            widen(s.y[i] - ey, c.y.log, y_lo, y_hi);
            widen(s.y[i] + ey, c.y.log, y_lo, y_hi);
        }
    }
    for (const auto & b : c.bands) {
        widen(b.x0, c.x.log, x_lo, x_hi);
        widen(b.x1, c.x.log, x_lo, x_hi);
    }
    const SiScale xsi = c.x.si_prefix ? si_scale(c.x.si_basis.value_or(std::max(std::abs(x_lo), std::abs(x_hi))))
                                      : SiScale{};
    const SiScale ysi = c.y.si_prefix ? si_scale(c.y.si_basis.value_or(std::max(std::abs(y_lo), std::abs(y_hi))))
                                      : SiScale{};

    Scale xs, ys;
    xs.log = c.x.log;
    ys.log = c.y.log;
    xs.ticks = axis_ticks(c.x, x_lo * xsi.factor, x_hi * xsi.factor, xsi.factor);
    ys.ticks = axis_ticks(c.y, y_lo * ysi.factor, y_hi * ysi.factor, ysi.factor);

    std::string out = open_svg(c.id, c.width, c.height, c.title);
    double top = draw_heading(out, c.title, c.subtitle, c.width);

    std::vector<LegendItem> legend;
    for (const auto & s : c.series) {
        if (s.name.empty()) continue;
        LegendItem it{s.name, s.color};
        it.kind = s.line && !s.markers ? (s.dashed ? LegendItem::dashed : LegendItem::line)
                  : s.hollow           ? LegendItem::ring
                                       : LegendItem::dot;
        legend.push_back(it);
    }
    for (const auto & b : c.bands) {
        if (b.label.empty()) continue;
        bool seen = false;
        for (const auto & it : legend) seen = seen || (it.kind == LegendItem::box && it.label == b.label);
        if (!seen) legend.push_back({b.label, escape(b.color), LegendItem::box, std::min(1.0, b.opacity * 2)});
    }
    top = draw_legend(out, legend, top, c.width) + 6;

    const double left = 12 + 18 + y_tick_labels_width(ys.ticks) + 8;
    const double right = c.width - 18.0;
    const double bottom = c.height - 46.0;
    xs.p0 = left;
    xs.p1 = right;
    ys.p0 = bottom;
    ys.p1 = top;

    draw_y_axis(out, ys, left, right, axis_title(c.y, ysi.prefix));

    if (!c.bands.empty()) {
        out += "<g class=\"bands\">\n";
        for (const auto & b : c.bands) {
            if (!xs.usable(b.x0 * xsi.factor) || !xs.usable(b.x1 * xsi.factor)) continue;
            const double x0 = xs(b.x0 * xsi.factor), x1 = xs(b.x1 * xsi.factor);
            out += fmt::format(
                "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{}\">"
                "<title>{}</title></rect>\n",
                num(x0), num(top), num(std::max(0.0, x1 - x0)), num(bottom - top), escape(b.color), num(b.opacity),
                escape(b.label));
        }
        out += "</g>\n";
    }

    draw_x_axis(out, xs, bottom, axis_title(c.x, xsi.prefix));

    std::vector<Box> taken;
    std::vector<std::pair<std::vector<std::pair<double, double>>, const Series *>> labelled;
    for (const auto & s : c.series) {
        out += fmt::format("<g class=\"series{}{}\">\n", s.css_class.empty() ? "" : " ", escape(s.css_class));
        std::vector<std::pair<double, double>> pts;  // pixels, NaN where the point is missing
        const size_t n = std::min(s.x.size(), s.y.size());
        for (size_t i = 0; i < n; ++i) {
            const double x = s.x[i] * xsi.factor, y = s.y[i] * ysi.factor;
            if (xs.usable(x) && ys.usable(y)) {
                pts.emplace_back(xs(x), ys(y));
            } else {
                pts.emplace_back(NAN, NAN);
            }
        }
        // A frontier's staircase runs from the x axis up to its first point and from its last
        // point to the frame, so the region it dominates reads at a glance, even for one point.
        std::vector<std::pair<double, double>> line_pts = pts;
        if (s.line && s.frontier) {
            const auto present = [](const auto & p) { return !std::isnan(p.first); };
            const auto first = std::find_if(pts.begin(), pts.end(), present);
            const auto last = std::find_if(pts.rbegin(), pts.rend(), present);
            if (first != pts.end()) {
                line_pts.insert(line_pts.begin(), {first->first, bottom});
                line_pts.emplace_back(right, last->second);
            }
        }
        if (s.line) {
            const auto & pts = line_pts;
            // A missing point breaks the line: one polyline per run of present points.
            std::string poly;
            auto flush = [&] {
                if (!poly.empty()) {
                    out += fmt::format(
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" "
                        "stroke-linejoin=\"round\"{}/>\n",
                        poly, escape(s.color), num(s.line_width), s.dashed ? " stroke-dasharray=\"6 4\"" : "");
                }
                poly.clear();
            };
            for (size_t i = 0; i < pts.size(); ++i) {
                if (std::isnan(pts[i].first)) {
                    flush();
                    continue;
                }
                if (s.step && !poly.empty() && i > 0 && !std::isnan(pts[i - 1].first)) {
                    poly += fmt::format(" {},{}", num(pts[i].first), num(pts[i - 1].second));
                }
                poly += fmt::format("{}{},{}", poly.empty() ? "" : " ", num(pts[i].first), num(pts[i].second));
            }
            flush();
        }
        // Error bars under the markers: a line each way with a cap at each end.
        for (size_t i = 0; i < n; ++i) {
            if (std::isnan(pts[i].first)) continue;
            const double ex = err(s.x_err, i) * xsi.factor, ey = err(s.y_err, i) * ysi.factor;
            const double x = s.x[i] * xsi.factor, y = s.y[i] * ysi.factor;
            const double cap = 4.0;
            if (ey > 0 && ys.usable(y - ey) && ys.usable(y + ey)) {
                const double ya = ys(y - ey), yb = ys(y + ey);
                out += fmt::format(
                    "<path class=\"error-bar\" d=\"M{0},{1}V{2}M{3},{1}H{4}M{3},{2}H{4}\" stroke=\"{5}\" "
                    "stroke-width=\"1.2\" fill=\"none\"/>\n",
                    num(pts[i].first), num(ya), num(yb), num(pts[i].first - cap), num(pts[i].first + cap),
                    escape(s.color));
                taken.push_back({pts[i].first - cap, std::min(ya, yb), pts[i].first + cap, std::max(ya, yb)});
            }
            if (ex > 0 && xs.usable(x - ex) && xs.usable(x + ex)) {
                const double xa = xs(x - ex), xb = xs(x + ex);
                out += fmt::format(
                    "<path class=\"error-bar\" d=\"M{0},{1}H{2}M{0},{3}V{4}M{2},{3}V{4}\" stroke=\"{5}\" "
                    "stroke-width=\"1.2\" fill=\"none\"/>\n",
                    num(xa), num(pts[i].second), num(xb), num(pts[i].second - cap), num(pts[i].second + cap),
                    escape(s.color));
                taken.push_back({std::min(xa, xb), pts[i].second - cap, std::max(xa, xb), pts[i].second + cap});
            }
        }
        if (s.markers) {
            for (size_t i = 0; i < pts.size(); ++i) {
                if (std::isnan(pts[i].first)) continue;
                const std::string tip = i < s.tips.size() ? s.tips[i] : (i < s.labels.size() ? s.labels[i] : s.name);
                out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\">",
                                   num(pts[i].first), num(pts[i].second), num(s.marker_r),
                                   s.hollow ? "#ffffff" : escape(s.color), s.hollow ? escape(s.color) : "#ffffff",
                                   s.hollow ? "2" : "1");
                out += tip.empty() ? "</circle>\n" : fmt::format("<title>{}</title></circle>\n", escape(tip));
                taken.push_back({pts[i].first - s.marker_r, pts[i].second - s.marker_r, pts[i].first + s.marker_r,
                                 pts[i].second + s.marker_r});
            }
        }
        out += "</g>\n";
        // Labels keep off short step lines too (a Pareto staircase), not only off markers; a long
        // line (a power trace) would leave no room, and is never labelled anyway.
        if (s.line && s.step && line_pts.size() <= 200) {
            for (size_t i = 1; i < line_pts.size(); ++i) {
                const auto [x0, y0] = line_pts[i - 1];
                const auto [x1, y1] = line_pts[i];
                if (std::isnan(x0) || std::isnan(x1)) continue;
                const double ys = s.step ? y0 : y1;  // a step goes across first, then up or down
                taken.push_back({std::min(x0, x1) - 1, std::min(y0, ys) - 1, std::max(x0, x1) + 1, std::max(y0, ys) + 1});
                if (s.step) taken.push_back({x1 - 1, std::min(ys, y1) - 1, x1 + 1, std::max(ys, y1) + 1});
            }
        }
        if (!s.labels.empty()) labelled.emplace_back(std::move(pts), &s);
    }
    // Labels last, so they sit on top and avoid every marker.
    for (const auto & [pts, s] : labelled) {
        std::vector<std::pair<double, double>> present;
        std::vector<std::string> texts;
        for (size_t i = 0; i < pts.size() && i < s->labels.size(); ++i) {
            if (std::isnan(pts[i].first)) continue;
            present.push_back(pts[i]);
            texts.push_back(s->labels[i]);
        }
        out += "<g class=\"labels\">\n";
        draw_point_labels(out, present, texts, left, right, top, bottom, taken);
        out += "</g>\n";
    }
    out += "</svg>\n";
    return out;
}

std::string render(const BarChart & c) {
    const size_t n_cat = c.categories.size();
    const size_t n_ser = c.series.size();
    double lo = INFINITY, hi = -INFINITY;
    bool any_label = false;
    for (const auto & s : c.series) {
        for (size_t i = 0; i < s.values.size() && i < n_cat; ++i) {
            const double v = s.values[i];
            if (!std::isfinite(v)) continue;
            const double e = i < s.errors.size() && std::isfinite(s.errors[i]) ? std::abs(s.errors[i]) : 0.0;
            lo = std::min(lo, v - e);
            hi = std::max(hi, v + e);
            any_label = any_label || (i < s.labels.size() && !s.labels[i].empty());
        }
    }
    Axis y = c.y;
    y.include_zero = true;
    const SiScale si = y.si_prefix ? si_scale(y.si_basis.value_or(std::max(std::abs(lo), std::abs(hi)))) : SiScale{};
    if (std::isfinite(lo)) {
        lo *= si.factor;
        hi *= si.factor;
        // Headroom for the labels above the tallest bar.
        if (any_label) hi += (hi - std::min(lo, 0.0)) * 0.08;
    }
    Scale ys;
    ys.ticks = axis_ticks(y, lo, hi, si.factor);

    std::string out = open_svg(c.id, c.width, c.height, c.title);
    double top = draw_heading(out, c.title, c.subtitle, c.width);
    std::vector<LegendItem> legend;
    if (c.legend) {
        for (const auto & s : c.series) {
            if (!s.name.empty()) legend.push_back({s.name, s.color, LegendItem::box, 0.9});
        }
    }
    top = draw_legend(out, legend, top, c.width) + 6;

    const double left = 12 + 18 + y_tick_labels_width(ys.ticks) + 8;
    const double right = c.width - 12.0;
    const double bottom = c.height - (c.x_label.empty() ? 30.0 : 46.0);
    ys.p0 = bottom;
    ys.p1 = top;
    draw_y_axis(out, ys, left, right, axis_title(y, si.prefix));

    const double group_w = n_cat ? (right - left) / double(n_cat) : 0.0;
    const double inner = group_w * 0.78;
    const double bar_w = n_ser ? inner / double(n_ser) : 0.0;
    const double zero = ys(std::clamp(0.0, ys.ticks.lo, ys.ticks.hi));

    out += "<g class=\"axis x-axis\">\n";
    for (size_t i = 0; i < n_cat; ++i) {
        const double cx = left + group_w * (double(i) + 0.5);
        const std::string shown = fit_text(c.categories[i], group_w - 4, kTextSize);
        out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}", num(cx), num(bottom + 17), escape(shown));
        out += shown != c.categories[i] ? fmt::format("<title>{}</title></text>\n", escape(c.categories[i])) : "</text>\n";
    }
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n", num(left),
                       num(zero), num(right), num(zero), kAxis);
    if (!c.x_label.empty()) {
        out += fmt::format("<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                           num((left + right) / 2), num(bottom + 36), escape(c.x_label));
    }
    out += "</g>\n";

    for (size_t s = 0; s < n_ser; ++s) {
        const BarSeries & ser = c.series[s];
        out += "<g class=\"bars\">\n";
        for (size_t i = 0; i < n_cat; ++i) {
            const double x0 = left + group_w * double(i) + (group_w - inner) / 2 + bar_w * double(s);
            const double cx = x0 + bar_w / 2;
            const double v = i < ser.values.size() ? ser.values[i] * si.factor : NAN;
            if (!std::isfinite(v)) {
                out += fmt::format("<text class=\"na\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" fill=\"{}\">"
                                   "n/a</text>\n",
                                   num(cx), num(zero - 4), num(kSmallSize - 1), kMuted);
                continue;
            }
            const double py = ys(v);
            const double y0 = std::min(py, zero), h = std::abs(zero - py);
            const std::string tip = fmt::format("{}{}{}: {}", c.categories[i], ser.name.empty() ? "" : ", ", ser.name,
                                                i < ser.labels.size() && !ser.labels[i].empty()
                                                    ? ser.labels[i]
                                                    : fmt::format("{:.4g}", ser.values[i]));
            out += fmt::format(
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>\n",
                num(x0 + 1), num(y0), num(std::max(0.0, bar_w - 2)), num(std::max(h, 0.5)),
                i < ser.colors.size() && !ser.colors[i].empty() ? escape(ser.colors[i]) : escape(ser.color), escape(tip));
            double label_y = v >= 0 ? py - 5 : py + 13;
            if (i < ser.errors.size() && std::isfinite(ser.errors[i]) && ser.errors[i] != 0) {
                const double e = std::abs(ser.errors[i]) * si.factor;
                const double ya = ys(v - e), yb = ys(v + e);
                const double cap = std::min(5.0, bar_w / 4);
                out += fmt::format(
                    "<path class=\"error-bar\" d=\"M{0},{1}V{2}M{3},{1}H{4}M{3},{2}H{4}\" stroke=\"{5}\" "
                    "stroke-width=\"1.2\" fill=\"none\"/>\n",
                    num(cx), num(ya), num(yb), num(cx - cap), num(cx + cap), kInk);
                label_y = v >= 0 ? std::min(label_y, yb - 5) : std::max(label_y, ya + 13);
            }
            if (i < ser.labels.size() && !ser.labels[i].empty()) {
                out += fmt::format("<text class=\"bar-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\">{}</text>\n",
                                   num(cx), num(label_y), num(kSmallSize - (bar_w < 36 ? 1.5 : 0)),
                                   escape(ser.labels[i]));
            }
        }
        out += "</g>\n";
    }
    out += "</svg>\n";
    return out;
}

}  // namespace jb::svg

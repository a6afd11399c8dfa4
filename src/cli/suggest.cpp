#include "cli/suggest.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace jb::cli {

size_t edit_distance(const std::string & a, const std::string & b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

namespace {

// The closest of `names` to `word`: within a third of its length (at least 2 edits), or one that
// starts with it or that it starts with ("--task" for "--tasks").
std::string closest(const std::string & word, const std::vector<std::string> & names) {
    std::string best;
    size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto & n : names) {
        size_t d = edit_distance(word, n);
        const bool prefix = word.size() >= 3 && n.size() >= 3 && (n.rfind(word, 0) == 0 || word.rfind(n, 0) == 0);
        if (prefix) d = std::min<size_t>(d, 1);
        if (d < best_d) {
            best_d = d;
            best = n;
        }
    }
    return best;
}

std::vector<std::string> option_names(const CLI::App & cmd) {
    std::vector<std::string> out;
    for (const CLI::Option * opt : cmd.get_options()) {
        for (const auto & l : opt->get_lnames()) out.push_back("--" + l);
        for (const auto & s : opt->get_snames()) out.push_back("-" + s);
    }
    return out;
}

}  // namespace

std::string unknown_word_hint(const CLI::App & app, int argc, const char * const * argv) {
    if (argc < 2) return "";
    const std::string first = argv[1];
    if (first.empty() || first[0] == '-') return "";
    const CLI::App * cmd = nullptr;
    std::vector<std::string> commands;
    for (const CLI::App * sub : app.get_subcommands([](const CLI::App *) { return true; })) {
        commands.push_back(sub->get_name());
        if (sub->get_name() == first) cmd = sub;
    }
    if (!cmd) {
        const std::string near = closest(first, commands);
        return near.empty() ? fmt::format("unknown command '{}' (joulebench --help lists them)", first)
                            : fmt::format("unknown command '{}'; did you mean '{}'?", first, near);
    }
    // Subcommands of the command (hardware list): their options count too.
    std::vector<const CLI::App *> scopes = {cmd};
    for (int i = 2; i < argc; ++i) {
        const std::string w = argv[i];
        if (w == "--") break;
        for (const CLI::App * sub : cmd->get_subcommands([](const CLI::App *) { return true; })) {
            if (sub->get_name() == w) scopes.push_back(sub);
        }
        if (w.size() < 2 || w[0] != '-' || (w.size() > 1 && std::isdigit(static_cast<unsigned char>(w[1])))) continue;
        const std::string name = w.substr(0, w.find('='));
        bool known = false;
        std::vector<std::string> names;
        for (const CLI::App * s : scopes) {
            const auto n = option_names(*s);
            names.insert(names.end(), n.begin(), n.end());
            known = known || std::find(n.begin(), n.end(), name) != n.end();
        }
        if (known || name == "-h" || name == "--help") continue;
        const std::string near = closest(name, names);
        return near.empty() ? fmt::format("{}: unknown option {} (joulebench {} --help lists them)", first, name, first)
                            : fmt::format("{}: unknown option {}; did you mean {}?", first, name, near);
    }
    return "";
}

}  // namespace jb::cli
